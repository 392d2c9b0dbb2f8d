/**
 * Every notebook in notebooks/, executed once, exported to reST and to Markdown. The reST must
 * pass docutils with no warning and hold every section, code cell, figure and claim; the
 * Markdown must reference every figure it writes.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import MarkdownIt from "markdown-it";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLAIM_MIME } from "../../kernel-lib/display/claim.js";
import { VEGALITE_MIME } from "../../kernel-lib/display/vega-lite.js";
import { executeNotebooks, listNotebooks, type NotebookRun } from "../../kernel-lib/kernel/notebook-check.js";
import { cellTags, joinSource, type Cell } from "../../kernel-lib/kernel/notebook.js";
import { convertNotebook } from "../../docs-site/export/export-notebook.js";
import type { ExportedDocument } from "../../docs-site/export/exported-document.js";
import { docutilsFile } from "./docutils.js";

const root = new URL("../../", import.meta.url).pathname;
const paths = listNotebooks(join(root, "notebooks"));
const scratch = mkdtempSync(join(tmpdir(), "vfio-workbench-export-"));
let runs: NotebookRun[] = [];

beforeAll(async () => {
  runs = await executeNotebooks(paths, { jobs: 2 });
}, 600_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function write(dir: string, name: string, doc: ExportedDocument): string {
  const file = join(dir, name);
  writeFileSync(file, doc.text);
  for (const f of doc.files) writeFileSync(join(dir, f.name), f.content);
  return file;
}

/** The cells the export shows, and the display outputs of those whose outputs it shows. */
function shown(cells: readonly Cell[]) {
  const visible = cells.filter((c) => !cellTags(c).includes("remove-cell"));
  const code = visible.filter((c) => c.cell_type === "code");
  const outputs = code.filter((c) => !cellTags(c).includes("hide-output")).flatMap((c) => c.outputs ?? []);
  const bundles = outputs.flatMap((o) => ("data" in o ? [o.data] : []));
  return {
    markdown: visible.filter((c) => c.cell_type === "markdown").map((c) => joinSource(c.source)),
    code: code.filter((c) => !cellTags(c).includes("hide-input")).map((c) => joinSource(c.source)),
    figures: bundles.filter((d) => !(CLAIM_MIME in d) && ("image/svg+xml" in d || VEGALITE_MIME in d || "image/png" in d)).length,
    claims: bundles.filter((d) => CLAIM_MIME in d).length,
  };
}

const headings = (md: string) =>
  new MarkdownIt()
    .parse(md, {})
    .filter((t, i, all) => i > 0 && all[i - 1]!.type === "heading_open")
    .map((t) => t.children!.map((c) => c.content).join(""));

const text = (xml: string) => xml.replace(/<[^>]+>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");

describe.each(paths.map((p) => [p.slice(p.lastIndexOf("/") + 1), paths.indexOf(p)] as const))("export %s", (name, index) => {
  it("ran cleanly", () => {
    expect(runs[index]!.failures).toEqual([]);
    expect(runs[index]!.ok).toBe(true);
  });

  it("to reST: docutils reports no warning, and every section, code cell, figure and claim is there", async () => {
    const run = runs[index]!;
    const doc = await convertNotebook(run, "rst", name);
    const dir = mkdtempSync(join(scratch, "rst-"));
    const file = write(dir, name.replace(/\.ipynb$/, ".rst"), doc);
    const html = docutilsFile(file, "html");
    expect({ stderr: html.stderr, status: html.status }).toEqual({ stderr: "", status: 0 });
    const xml = docutilsFile(file, "xml");
    expect(xml.stderr).toBe("");
    const want = shown(run.notebook.cells);

    const titles = [...xml.stdout.matchAll(/<title>([\s\S]*?)<\/title>/g)].map((m) => text(m[1]!));
    expect(titles).toEqual(want.markdown.flatMap(headings));

    const literals = [...xml.stdout.matchAll(/<literal_block[^>]*>([\s\S]*?)<\/literal_block>/g)].map((m) => text(m[1]!));
    for (const source of want.code) expect(literals).toContain(source.replace(/\t/g, "        ").replace(/[ \t]+$/gm, "").replace(/^\n+|\n+$/g, ""));

    const figures = [...xml.stdout.matchAll(/<figure[^>]*><image alt=(?:"([^"]*)"|'([^']*)') uri="([^"]+)"/g)].map((m) => [m[0], m[1] ?? m[2], m[3]] as const);
    expect(figures.length).toBe(want.figures);
    expect(doc.files.map((f) => f.name)).toEqual(figures.map((m) => m[2]));
    for (const [, alt] of figures) expect(alt!.trim()).not.toBe("");
    for (const f of doc.files) expect(String(f.content)).toMatch(/^<svg\b/);

    expect([...xml.stdout.matchAll(/<paragraph>✔ <strong>Checked:<\/strong>/g)].length).toBe(want.claims);
  });

  it("to Markdown: every code cell fenced, every figure written and referenced", async () => {
    const run = runs[index]!;
    const doc = await convertNotebook(run, "md", name);
    const want = shown(run.notebook.cells);
    const tokens = new MarkdownIt().parse(doc.text, {});
    const fences = tokens.filter((t) => t.type === "fence");
    for (const source of want.code) expect(fences.map((f) => f.content)).toContain(source.replace(/\n+$/, "") + "\n");
    const images = tokens.flatMap((t) => t.children ?? []).filter((t) => t.type === "image").map((t) => t.attrGet("src"));
    expect(images).toEqual(doc.files.map((f) => f.name));
    expect(images.length).toBe(want.figures);
    expect(doc.text).not.toMatch(/\]\([^)]*\.ipynb/);
  });
});
