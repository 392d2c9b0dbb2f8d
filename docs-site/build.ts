/**
 * `vfio-workbench build`: executes the notebooks through the engine `check` uses (each in a
 * kernel of its own, in parallel, an unchanged one taken from the cache), renders each to a
 * page, adds the index, the glossary, known differences and the reference pages, checks every
 * internal link, and writes the site.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { defaultJobs, executeNotebooks, listNotebooks, runFailureLines } from "../kernel-lib/kernel/notebook-check.js";
import { parseNotebook, serializeNotebook, type Notebook } from "../kernel-lib/kernel/notebook.js";
import { packageInfo } from "../kernel-lib/kernel/package-root.js";
import { ProjectCache } from "./cache.js";
import { collectUses, glossaryBody } from "./glossary.js";
import { indexBody } from "./index-page.js";
import { renderPage, type NavEntry } from "./layout.js";
import { brokenLinks, type BuiltPage } from "./links.js";
import { createMarkdown } from "./markdown.js";
import { renderNotebook, type Heading, type RenderedNotebook, type Section } from "./notebook-page.js";
import { searchDocuments, searchIndexScript, type SearchDocument } from "./search.js";

/** A page made from Markdown or HTML by a generator (the CLI and API references). */
export interface ExtraPage {
  slug: string;
  title: string;
  markdown?: string;
  html?: string;
}

export interface BuildOptions {
  /** the project: its notebooks/ and package-lock.json (default: the working directory) */
  root?: string;
  /** where the site is written (default: ROOT/site); what was there is replaced whole */
  out?: string;
  /** notebooks executed at once (default: the number of cores) */
  jobs?: number;
  /** per-cell limit in seconds */
  timeoutSeconds?: number;
  /** one call per notebook, as it is executed or taken from the cache */
  onProgress?: (event: { notebook: string; status: "executed" | "cached"; seconds: number }) => void;
  /** pages generated from the package itself, in the Reference group */
  extraPages?: readonly ExtraPage[];
}

export interface BuildResult {
  out: string;
  pages: string[];
  executed: string[];
  cached: string[];
  seconds: number;
}

/** A build that must not ship: failing cells, invalid notebooks or broken links, one line each. */
export class SiteBuildError extends Error {
  override name = "SiteBuildError";
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
  }
}

/** The browser builds the pages load, copied from the installed packages. */
function vendorAssets(): Record<string, string> {
  const require = createRequire(import.meta.url);
  // a package's folder, from its entry point up to its package.json (not every package exports that file)
  const fileOf = (pkg: string, rel: string) => {
    let dir = dirname(require.resolve(pkg));
    while (!existsSync(join(dir, "package.json")) || (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string }).name !== pkg) {
      const parent = dirname(dir);
      if (parent === dir) throw new Error(`cannot find the folder of the package ${pkg}`);
      dir = parent;
    }
    return join(dir, rel);
  };
  return {
    "minisearch.js": fileOf("minisearch", "dist/umd/index.js"),
    "vega.min.js": fileOf("vega", "build/vega.min.js"),
    "vega-lite.min.js": fileOf("vega-lite", "build/vega-lite.min.js"),
    "vega-embed.min.js": fileOf("vega-embed", "build/vega-embed.min.js"),
  };
}

/**
 * What "Run live" loads, only when a reader asks for it: the emulator's browser build, the live
 * runner, its worker and the page's editors (dist/browser/, made at npm run build), and the
 * TypeScript compiler the worker strips types with.
 */
function copyLiveAssets(packageRoot: string, to: string): void {
  const from = join(packageRoot, "dist", "browser");
  if (!existsSync(join(from, "live-page.js"))) throw new SiteBuildError([`${from}: no browser build (live-page.js); run npm run build`]);
  cpSync(from, to, { recursive: true, filter: (file) => !file.endsWith("meta.json") });
  copyFileSync(createRequire(import.meta.url).resolve("typescript"), join(to, "typescript.js"));
}

interface NotebookSource {
  path: string;
  slug: string;
  text: string;
}

/** Executes what the cache does not hold; returns every notebook executed, in the order given. */
async function executed(sources: readonly NotebookSource[], cache: ProjectCache, options: BuildOptions): Promise<{ notebooks: Notebook[]; ran: string[] }> {
  const results = new Map<string, Notebook>();
  const toRun: NotebookSource[] = [];
  for (const source of sources) {
    const hit = cache.get(source.text);
    if (hit === null) {
      toRun.push(source);
      continue;
    }
    results.set(source.path, parseNotebook(hit, source.path));
    options.onProgress?.({ notebook: source.path, status: "cached", seconds: 0 });
  }
  const problems: string[] = [];
  if (toRun.length > 0) {
    const runs = await executeNotebooks(
      toRun.map((s) => s.path),
      {
        jobs: options.jobs ?? defaultJobs(),
        timeoutSeconds: options.timeoutSeconds,
        onDone: (run) => options.onProgress?.({ notebook: run.path, status: "executed", seconds: run.seconds }),
      },
    );
    runs.forEach((run, i) => {
      if (!run.ok) {
        problems.push(...runFailureLines(run));
        return;
      }
      cache.put(toRun[i]!.text, serializeNotebook(run.notebook));
      results.set(run.path, run.notebook);
    });
  }
  if (problems.length > 0) throw new SiteBuildError(problems);
  return { notebooks: sources.map((s) => results.get(s.path)!), ran: toRun.map((s) => s.path) };
}

/** A notebook's page, from the cache when this executed notebook was rendered by this code before. */
function renderedNotebook(md: ReturnType<typeof createMarkdown>, cache: ProjectCache, notebook: Notebook, slug: string): RenderedNotebook {
  const executed = serializeNotebook(notebook);
  const hit = cache.getRendered(executed, slug);
  if (hit !== null) {
    const { vegaSpecs, ...rest } = JSON.parse(hit) as Omit<RenderedNotebook, "vegaSpecs"> & { vegaSpecs: [string, unknown][] };
    return { ...rest, vegaSpecs: new Map(vegaSpecs) };
  }
  const page = renderNotebook(md, notebook, slug);
  cache.putRendered(executed, slug, JSON.stringify({ ...page, vegaSpecs: [...page.vegaSpecs] }));
  return page;
}

export async function buildSite(options: BuildOptions = {}): Promise<BuildResult> {
  const started = performance.now();
  const root = resolve(options.root ?? process.cwd());
  const out = resolve(options.out ?? join(root, "site"));
  const notebookDir = join(root, "notebooks");
  if (!existsSync(notebookDir)) throw new SiteBuildError([`${notebookDir}: no notebooks folder`]);
  const packageRoot = packageInfo().root;
  const sources: NotebookSource[] = listNotebooks(notebookDir).map((path) => ({ path, slug: basename(path, ".ipynb"), text: readFileSync(path, "utf8") }));
  if (sources.length === 0) throw new SiteBuildError([`${notebookDir}: no notebooks to build`]);
  const cache = new ProjectCache(root, packageRoot);
  const { notebooks, ran } = await executed(sources, cache, options);

  const md = createMarkdown();
  const rendered: (RenderedNotebook & { slug: string })[] = notebooks.map((nb, i) => ({ ...renderedNotebook(md, cache, nb, sources[i]!.slug), slug: sources[i]!.slug }));

  const knownDifferencesPath = [join(root, "docs-site", "known-differences.md"), join(packageRoot, "docs-site", "known-differences.md")].find(existsSync);
  const extras: ExtraPage[] = [...(options.extraPages ?? [])];
  if (knownDifferencesPath) extras.push({ slug: "known-differences", title: "Known differences from Linux's mtty", markdown: readFileSync(knownDifferencesPath, "utf8") });

  type Page = { slug: string; title: string; group: string; body: string; headings: Heading[]; sections: Section[]; banner?: string; vegaSpecs?: Map<string, unknown> };
  const pages: Page[] = rendered.map((r) => ({
    slug: r.slug,
    title: r.title,
    group: "Notebooks",
    body: r.body,
    headings: r.headings,
    sections: r.sections,
    vegaSpecs: r.vegaSpecs,
    banner:
      `<p class="run-banner"><a href="notebooks/${r.slug}.ipynb" download>Download ${r.slug}.ipynb</a> · run it: ` +
      `<code>npx vfio-workbench run notebooks/${r.slug}.ipynb -o executed/${r.slug}.ipynb</code>, or open it in Jupyter with the vfio-workbench kernel` +
      ` <button type="button" class="live-toggle" data-slug="${r.slug}" hidden>Run live in this page</button></p>`,
  }));
  for (const extra of extras) {
    const env = {};
    const html = extra.html ?? md.render(extra.markdown ?? "", env);
    const headings: Heading[] = [...html.matchAll(/<h([23]) id="([^"]+)"[^>]*>(.*?)<\/h\1>/g)].map((m) => ({ level: Number(m[1]), id: m[2]!, text: m[3]!.replace(/<[^>]+>/g, "") }));
    pages.push({ slug: extra.slug, title: extra.title, group: "Reference", body: html, headings, sections: [{ anchor: "", heading: extra.title, prose: html.replace(/<[^>]+>/g, " "), code: "" }] });
  }
  const uses = collectUses(pages.filter((p) => p.group === "Notebooks"));
  pages.push({ slug: "glossary", title: "Glossary", group: "Reference", body: glossaryBody(uses), headings: [], sections: [] });

  const nav: NavEntry[] = [{ slug: "index", title: "Overview", group: "Start" }, ...pages.map((p) => ({ slug: p.slug, title: p.title, group: p.group }))];
  const index = indexBody(md, rendered);
  const built: BuiltPage[] = [
    { file: "index.html", html: renderPage({ slug: "index", title: "vfio-workbench", body: index.html, headings: index.headings, nav }) },
    ...pages.map((p) => ({ file: `${p.slug}.html`, html: renderPage({ ...p, nav }) })),
  ];

  const assets = { ...vendorAssets() };
  const ownAssets = join(packageRoot, "docs-site", "assets");
  const notebookFiles = sources.map((s) => `notebooks/${s.slug}.ipynb`);
  const problems = brokenLinks(built, new Set([...notebookFiles, ...Object.keys(assets).map((a) => `assets/${a}`)]));
  if (problems.length > 0) throw new SiteBuildError(problems.map((p) => `broken link: ${p}`));

  const documents: SearchDocument[] = [
    ...pages.flatMap((p) => searchDocuments(p.slug, p.title, p.sections)),
  ];
  // written beside the old site and swapped in whole, so a server never hands out half a build
  const staging = `${out}.building-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, "assets"), { recursive: true });
  mkdirSync(join(staging, "notebooks"), { recursive: true });
  for (const page of built) writeFileSync(join(staging, page.file), page.html);
  for (const [name, from] of Object.entries(assets)) copyFileSync(from, join(staging, "assets", name));
  for (const name of ["site.css", "site.js"]) copyFileSync(join(ownAssets, name), join(staging, "assets", name));
  writeFileSync(join(staging, "assets", "search-index.js"), searchIndexScript(documents));
  copyLiveAssets(packageRoot, join(staging, "assets", "live"));
  for (const s of sources) writeFileSync(join(staging, "notebooks", `${s.slug}.ipynb`), s.text);
  rmSync(out, { recursive: true, force: true });
  renameSync(staging, out);
  return {
    out,
    pages: built.map((p) => p.file),
    executed: ran,
    cached: sources.filter((s) => !ran.includes(s.path)).map((s) => s.path),
    seconds: (performance.now() - started) / 1000,
  };
}
