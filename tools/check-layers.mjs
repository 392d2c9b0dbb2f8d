#!/usr/bin/env node
/**
 * The layer check (`npm run layers`, part of `npm test`): runs dependency-cruiser with the
 * rules in .dependency-cruiser.cjs over the sources, then over the notebooks' code cells.
 * Every violation prints its rule and the offending file → file; the exit code is non-zero
 * when there is any.
 *
 * Notebook cells are not files dependency-cruiser can read, so each code cell is written to
 * a scratch folder as notebooks/NAME.ipynb/cell-N.ts and cruised there; an import is then
 * reported as that cell → the module it names.
 *
 * Usage: node tools/check-layers.mjs [REPO]   (default: the repository this file is in)
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cruise } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config";

const SOURCE_FOLDERS = ["cli", "docs-site", "kernel-lib", "hw-emu", "bench", "test"];

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), ".."));
process.chdir(root);
const options = await extractDepcruiseOptions(join(root, ".dependency-cruiser.cjs"));

async function run(label, folders, baseDir, tsConfig) {
  const opts = { ...options, baseDir, outputType: "err" };
  if (!tsConfig) {
    // notebook cells: judge each import as written; resolve nothing through the repository's tsconfig
    delete opts.tsConfig;
    opts.maxDepth = 1;
  }
  const result = await cruise(folders, opts, {}, tsConfig ? { tsConfig } : {});
  process.stdout.write(`${label}:${result.output.startsWith("\n") ? "" : "\n"}${result.output}`);
  return result.exitCode;
}

/** Code cells of every notebook, as NAME.ipynb/cell-N.ts files under `dir`/notebooks. */
function writeCells(dir) {
  const folder = join(root, "notebooks");
  if (!existsSync(folder)) return 0;
  let n = 0;
  for (const name of readdirSync(folder).filter((f) => f.endsWith(".ipynb")).sort()) {
    const nb = JSON.parse(readFileSync(join(folder, name), "utf8"));
    const out = join(dir, "notebooks", name);
    mkdirSync(out, { recursive: true });
    (nb.cells ?? []).forEach((cell, i) => {
      if (cell.cell_type !== "code") return;
      const src = Array.isArray(cell.source) ? cell.source.join("") : String(cell.source ?? "");
      writeFileSync(join(out, `cell-${i + 1}.ts`), src);
      n++;
    });
  }
  return n;
}

const folders = SOURCE_FOLDERS.filter((f) => existsSync(join(root, f)));
let failures = await run("sources", folders, root, extractTSConfig(join(root, "tsconfig.layers.json")));

const scratch = mkdtempSync(join(tmpdir(), "layers-notebooks-"));
try {
  if (writeCells(scratch) > 0) failures += await run("notebook cells", ["notebooks"], scratch, null);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exitCode = failures > 0 ? 1 : 0;
