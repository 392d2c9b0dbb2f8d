/**
 * One executed notebook as the body of a page: its Markdown cells rendered, its code cells'
 * input highlighted and their outputs shown as their richest form, the cell tags honoured
 * (hide-input, hide-output, remove-cell), and what the page needs besides its HTML: its
 * headings for the table of contents, its sections for search, its uAPI identifiers.
 */
import { escapeMarkup as escapeHtml } from "../kernel-lib/display/escape.js";
import { cellTags, joinSource, type Notebook } from "../kernel-lib/kernel/notebook.js";
import { highlight, type Markdown } from "./markdown.js";
import { OutputRenderer } from "./outputs.js";

export interface Heading {
  level: number;
  id: string;
  text: string;
}

/** A stretch of a page from one heading to the next: what search indexes and links to. */
export interface Section {
  anchor: string;
  heading: string;
  prose: string;
  code: string;
}

export interface RenderedNotebook {
  title: string;
  /** the first paragraph of the opening cell, for the index page */
  summary: string;
  body: string;
  headings: Heading[];
  sections: Section[];
  vegaSpecs: Map<string, unknown>;
}

export const HIDE_INPUT = "hide-input";
export const HIDE_OUTPUT = "hide-output";
export const REMOVE_CELL = "remove-cell";

/** uAPI identifiers as they appear in prose and code: VFIO_*, IOMMU_* and the like. */
export const UAPI_IDENTIFIER = /\b(?:VFIO|IOMMU|IOMMUFD)_[A-Z0-9_]*[A-Z0-9]\b/g;

function plainText(md: Markdown, source: string): string {
  return md
    .render(source)
    .replace(/<[^>]+>/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}

export function renderNotebook(md: Markdown, notebook: Notebook, slug: string): RenderedNotebook {
  const env = {};
  const outputs = new OutputRenderer(md, slug);
  const headings: Heading[] = [];
  const sections: Section[] = [{ anchor: "", heading: "", prose: "", code: "" }];
  const vegaSpecs = new Map<string, unknown>();
  const parts: string[] = [];
  let title = slug;
  let summary = "";

  notebook.cells.forEach((cell, position) => {
    const tags = cellTags(cell);
    if (tags.includes(REMOVE_CELL)) return;
    const source = joinSource(cell.source);
    const section = sections[sections.length - 1]!;
    if (cell.cell_type === "markdown") {
      const tokens = md.parse(source, env);
      tokens.forEach((token, i) => {
        if (token.type !== "heading_open") return;
        const level = Number(token.tag.slice(1));
        const text = tokens[i + 1]?.children?.filter((c) => c.type === "text" || c.type === "code_inline").map((c) => c.content).join("") ?? "";
        const id = String(token.attrGet("id") ?? "");
        headings.push({ level, id, text });
        if (level === 1 && title === slug) title = text;
        else sections.push({ anchor: id, heading: text, prose: "", code: "" });
      });
      if (!summary && position === 0) summary = plainText(md, source.split(/\n\s*\n/).find((p) => p.trim() && !p.trim().startsWith("#")) ?? "");
      sections[sections.length - 1]!.prose += ` ${plainText(md, source)}`;
      parts.push(`<div class="cell markdown-cell">${md.renderer.render(tokens, md.options, env)}</div>`);
      return;
    }
    if (cell.cell_type !== "code") return;
    section.code += `\n${source}`;
    const inner: string[] = [];
    if (!tags.includes(HIDE_INPUT) && source.trim() !== "") {
      inner.push(`<pre class="code input"><code class="hljs language-typescript">${highlight(source, "typescript")}</code></pre>`);
    }
    if (!tags.includes(HIDE_OUTPUT)) {
      const rendered = outputs.render(cell.outputs ?? []);
      for (const [id, spec] of rendered.vegaSpecs) vegaSpecs.set(id, spec);
      if (rendered.html) inner.push(`<div class="outputs">${rendered.html}</div>`);
    }
    if (inner.length > 0) parts.push(`<div class="cell code-cell" id="cell-${escapeHtml(cell.id ?? String(position))}">${inner.join("\n")}</div>`);
  });

  return { title, summary, body: parts.join("\n"), headings, sections: sections.filter((s) => s.prose.trim() || s.code.trim()), vegaSpecs };
}
