/**
 * An executed notebook as one Markdown document: the prose as written (links to other notebooks
 * pointed at their exported .md files), code cells as fenced TypeScript, text outputs as fenced
 * text, figures as files beside the document, checked claims as sentences naming their source.
 * The cell tags remove-cell, hide-input and hide-output are honoured, as on the site.
 */
import { escapeMarkdown, escapeMarkup } from "../../kernel-lib/display/escape.js";
import { cellTags, joinSource, type Notebook } from "../../kernel-lib/kernel/notebook.js";
import { outputParts } from "./cell-outputs.js";
import { figureFileName, type ExportedDocument, type ExportedFile } from "./exported-document.js";

/** `](04-dirty-tracking.ipynb#x)` becomes `](04-dirty-tracking.md#x)`; other links are left alone. */
export function mdRewriteNotebookLinks(markdown: string): string {
  return markdown.replace(/\]\(([^()\s:#?]+?)\.ipynb(#[^()\s]*)?\)/g, "]($1.md$2)");
}

/** A fence longer than any run of backticks inside, so the content cannot close it. */
function fenced(content: string, info: string): string {
  const body = content.replace(/\r\n?/g, "\n").replace(/\n+$/, "");
  const longest = Math.max(2, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}${info}\n${body}\n${fence}`;
}

export async function notebookToMarkdown(notebook: Notebook, options: { stem: string; source: string }): Promise<ExportedDocument> {
  const language = String((notebook.metadata.language_info as { name?: unknown } | undefined)?.name ?? "typescript");
  const blocks: string[] = [`<!-- Generated from ${escapeMarkup(options.source)} by vfio-workbench export; edit the notebook, not this file. -->`];
  const files: ExportedFile[] = [];
  for (const cell of notebook.cells) {
    const tags = cellTags(cell);
    if (tags.includes("remove-cell")) continue;
    const source = joinSource(cell.source).replace(/\n+$/, "");
    if (cell.cell_type === "markdown") {
      if (source.trim() !== "") blocks.push(mdRewriteNotebookLinks(source));
      continue;
    }
    if (cell.cell_type === "raw") {
      const format = String(cell.metadata.format ?? cell.metadata.raw_mimetype ?? "");
      if ((format === "text/markdown" || format === "text/html") && source.trim() !== "") blocks.push(source);
      continue;
    }
    if (!tags.includes("hide-input") && source.trim() !== "") blocks.push(fenced(source, language));
    if (tags.includes("hide-output")) continue;
    for (const part of await outputParts(cell.outputs ?? [])) {
      if (part.kind === "text" || part.kind === "error") blocks.push(fenced(part.text, "text"));
      else if (part.kind === "figure") {
        const name = figureFileName(options.stem, files.length + 1, part.format);
        files.push({ name, content: part.content });
        blocks.push(`![${escapeMarkdown(part.alt)}](${name})`);
      } else if (part.kind === "claim") {
        const label = part.model && part.source ? `model: ${part.source}` : (part.source ?? "the emulator's model");
        blocks.push(`✔ **Checked:** ${escapeMarkdown(part.claim)} — *${escapeMarkdown(label)}*`);
      } else blocks.push(part.html.replace(/\n+$/, ""));
    }
  }
  return { text: blocks.join("\n\n") + "\n", files };
}
