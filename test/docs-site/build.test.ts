/**
 * `build` on small notebooks of its own: pages and links, the cell tags, the cache (an unchanged
 * notebook is not executed again, a changed one is), and the two things that must never ship:
 * a failing cell and a broken link.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSite, SiteBuildError } from "../../docs-site/index.js";
import { cliMain, requireBuild } from "../kernel/helpers.js";

type CellSpec = { type: "markdown" | "code"; source: string; tags?: string[] };

function writeNotebook(root: string, name: string, cells: CellSpec[]): void {
  const notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "vfio-workbench", display_name: "TypeScript (vfio-workbench)", language: "typescript" } },
    cells: cells.map((c, i) => ({
      id: `${name}-${i}`,
      cell_type: c.type,
      metadata: c.tags ? { tags: c.tags } : {},
      source: c.source,
      ...(c.type === "code" ? { outputs: [], execution_count: null } : {}),
    })),
  };
  writeFileSync(join(root, "notebooks", `${name}.ipynb`), JSON.stringify(notebook));
}

const ALPHA: CellSpec[] = [
  { type: "markdown", source: "# Alpha\n\nThe first page names `VFIO_DEVICE_FEATURE`.\n\n## Part one\n\nSee [the second page](beta.ipynb#part-two)." },
  { type: "code", source: "const answer = 6 * 7;\nanswer" },
];
const BETA: CellSpec[] = [
  { type: "markdown", source: "# Beta\n\n## Part two\n\n::: warning\nA warning.\n:::" },
  { type: "code", source: '"output without its input"', tags: ["hide-input"] },
  { type: "code", source: '"a removed cell"', tags: ["remove-cell"] },
  { type: "code", source: 'throw new RangeError("refused, as the prose says")', tags: ["raises-exception"] },
];

let root: string;
const progress: string[] = [];
const build = () => buildSite({ root, jobs: 2, onProgress: (e) => progress.push(`${e.notebook.split("/").at(-1)} ${e.status}`) });

beforeAll(() => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), "vwb-site-"));
  mkdirSync(join(root, "notebooks"));
  writeNotebook(root, "alpha", ALPHA);
  writeNotebook(root, "beta", BETA);
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const page = (name: string) => readFileSync(join(root, "site", name), "utf8");

describe("vfio-workbench build", () => {
  it("executes every notebook, writes a page for each with the index and glossary, and turns notebook links into page links", async () => {
    const result = await build();
    expect(result.executed.map((p) => p.split("/").at(-1))).toEqual(["alpha.ipynb", "beta.ipynb"]);
    expect(result.pages).toEqual(expect.arrayContaining(["index.html", "alpha.html", "beta.html", "glossary.html", "known-differences.html"]));
    const alpha = page("alpha.html");
    expect(alpha).toContain('href="beta.html#part-two"');
    expect(alpha).toMatch(/<pre tabindex="0" class="output text">42<\/pre>/);
    expect(alpha).toContain('href="notebooks/alpha.ipynb" download');
    expect(page("glossary.html")).toMatch(/<code>VFIO_DEVICE_FEATURE<\/code><\/th><td>ioctl request 0x3b75<\/td><td><a href="alpha.html">Alpha<\/a><\/td>/);
    expect(existsSync(join(root, "site", "notebooks", "alpha.ipynb"))).toBe(true);
    expect(existsSync(join(root, "site", "assets", "search-index.js"))).toBe(true);
  }, 120_000);

  it("honours hide-input, remove-cell and raises-exception, and renders admonitions", () => {
    const beta = page("beta.html");
    expect(beta).toContain("output without its input");
    expect(beta).not.toContain("&quot;output without its input&quot;</code>");
    expect(beta).not.toContain("a removed cell");
    expect(beta).toMatch(/class="output error"[^>]*><p><strong>RangeError<\/strong>: refused, as the prose says/);
    expect(beta).toContain('<div class="admonition admonition-warning" role="note">');
  });

  it("executes nothing when nothing changed, and only the notebook that changed", async () => {
    progress.length = 0;
    const warm = await build();
    expect(warm.executed).toEqual([]);
    expect(progress).toEqual(["alpha.ipynb cached", "beta.ipynb cached"]);
    writeNotebook(root, "beta", [...BETA, { type: "code", source: "2 + 2" }]);
    const changed = await build();
    expect(changed.executed.map((p) => p.split("/").at(-1))).toEqual(["beta.ipynb"]);
    expect(changed.cached.map((p) => p.split("/").at(-1))).toEqual(["alpha.ipynb"]);
  }, 120_000);

  it("fails on a broken link, naming the page and the link", async () => {
    writeNotebook(root, "alpha", [ALPHA[0]!, { type: "markdown", source: "A [bad link](beta.ipynb#nowhere) and [a missing page](gamma.ipynb)." }, ALPHA[1]!]);
    const error = await build().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SiteBuildError);
    expect((error as SiteBuildError).problems).toEqual([
      "broken link: alpha.html: beta.html#nowhere (no anchor #nowhere on beta.html)",
      "broken link: alpha.html: gamma.html (no page gamma.html)",
    ]);
    writeNotebook(root, "alpha", ALPHA);
  }, 120_000);

  it("fails on a failing cell, naming the notebook, the cell number and the error, in one line and exit 1 from the CLI", () => {
    writeNotebook(root, "gamma", [{ type: "markdown", source: "# Gamma" }, { type: "code", source: "1" }, { type: "code", source: 'throw new Error("boom")' }]);
    const r = spawnSync(process.execPath, [cliMain, "build"], { cwd: root, encoding: "utf8", timeout: 120_000 });
    expect(r.status).toBe(1);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("vfio-workbench: "));
    expect(lines).toEqual([`vfio-workbench: ${join(root, "notebooks", "gamma.ipynb")}: cell 2/2 (id gamma-2): Error: boom`]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});
