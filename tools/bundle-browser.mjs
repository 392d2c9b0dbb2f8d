#!/usr/bin/env node
/**
 * Runs after `npm run build`: bundles the package's entry (dist/kernel-lib/index.js) for a web
 * page with esbuild, into dist/browser/vfio-workbench.js (an ES module; what it loads on demand
 * in dist/browser/chunks/) and its metafile.
 *
 * The few modules that need Node have a browser twin beside them, NAME.browser.js (digests,
 * the native backend, importEsm, reading a table file); wherever the bundle would take NAME.js
 * it takes the twin. node:buffer becomes the `buffer` package. Any other Node built-in that is
 * still reachable fails the bundle, naming the module that imports it: nothing Node-only leaks in.
 *
 * The same run bundles the live cells (docs-site/live/): live-page.js (the page's editors and
 * buttons), live-runner.js and live-worker.js (the runner and its worker).
 *
 * Usage: node tools/bundle-browser.mjs [REPO]   (default: the repository this file is in)
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), ".."));
const entry = join(root, "dist", "kernel-lib", "index.js");
const outDir = join(root, "dist", "browser");
const require = createRequire(join(root, "package.json"));
const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** NAME.js → NAME.browser.js, where the twin exists. */
const browserTwins = {
  name: "browser-twins",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      const twin = target.replace(/\.js$/, ".browser.js");
      return twin !== target && existsSync(twin) ? { path: twin } : undefined;
    });
  },
};

/** node:buffer as the `buffer` package; every other Node built-in is an error naming its importer. */
const nodeBuiltins = {
  name: "node-builtins",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (!NODE_BUILTINS.has(args.path)) return undefined;
      if (args.path === "node:buffer" || args.path === "buffer") return { path: require.resolve("buffer/") };
      return { errors: [{ text: `${args.path} is Node-only and would leak into the browser bundle (imported by ${args.importer.replace(root + "/", "")}); give that module a .browser.js twin` }] };
    });
  },
};

/** One esbuild run for the page, with the rules above; a failure prints each error and exits 1. */
async function bundle(options) {
  try {
    return await build({
      outdir: outDir,
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: true,
      legalComments: "external",
      logLevel: "silent",
      plugins: [browserTwins, nodeBuiltins],
      ...options,
    });
  } catch (err) {
    for (const e of err.errors ?? [err]) process.stderr.write(`bundle-browser: ${e.text ?? e.message}${e.location ? ` (${e.location.file}:${e.location.line})` : ""}\n`);
    process.exit(1);
  }
}

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
// one run, so the library, the live runner, its worker and the live page share their chunks
const result = await bundle({
  entryPoints: {
    "vfio-workbench": entry,
    "live-runner": join(root, "dist", "docs-site", "live", "live-runner.js"),
    "live-worker": join(root, "dist", "docs-site", "live", "worker.js"),
    "live-page": join(root, "dist", "docs-site", "live", "page.js"),
  },
  entryNames: "[name]",
  chunkNames: "chunks/[name]-[hash]",
  // vega and vega-lite are reached by import() (kernel-lib/display/vega-loader.ts): split into
  // chunks a page loads when a chart needs them, and modules they share evaluate in order
  splitting: true,
  metafile: true,
});
writeFileSync(join(outDir, "meta.json"), JSON.stringify(result.metafile));
