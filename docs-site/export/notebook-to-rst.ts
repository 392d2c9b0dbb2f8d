/**
 * An executed notebook as one reStructuredText document for the kernel's Documentation/ tree:
 * prose converted from Markdown, code cells and their text outputs as literal blocks, figures
 * as files beside the document (`.. figure::` with the figure's own description as alt text),
 * checked claims as sentences naming their source. The cell tags remove-cell, hide-input and
 * hide-output are honoured, as on the site.
 */
import { cellTags, joinSource, type Notebook } from "../../kernel-lib/kernel/notebook.js";
import { outputParts, type OutputPart } from "./cell-outputs.js";
import { figureFileName, type ExportedDocument, type ExportedFile } from "./exported-document.js";
import { join, markdownToRstBlocks, type RstBlock } from "./markdown-to-rst.js";
import { directive, escapeRstText, literalBlock } from "./rst-text.js";

/** Links to other notebooks point at the pages Sphinx builds from their exported .rst files. */
export function rstLinkTarget(href: string): string {
  return href.replace(/^([^:#?]*?)\.ipynb(?=$|#)/, "$1.html");
}

const RST_RAW_FORMATS = new Set(["text/restructuredtext", "text/x-rst", "rst"]);

function claimParagraph(part: Extract<OutputPart, { kind: "claim" }>): string {
  const label = part.model && part.source ? `model: ${part.source}` : (part.source ?? "the emulator's model");
  return `✔ **Checked:** ${escapeRstText(part.claim.replace(/\s+/g, " ").trim())} — *${escapeRstText(label.replace(/\s+/g, " ").trim())}*`;
}

export async function notebookToRst(notebook: Notebook, options: { stem: string; source: string }): Promise<ExportedDocument> {
  const blocks: RstBlock[] = [{ text: `.. Generated from ${options.source} by vfio-workbench export; edit the notebook, not this file.`, kind: "plain" }];
  const files: ExportedFile[] = [];
  const sections: number[] = [];
  for (const cell of notebook.cells) {
    const tags = cellTags(cell);
    if (tags.includes("remove-cell")) continue;
    const source = joinSource(cell.source);
    if (cell.cell_type === "markdown") {
      blocks.push(...markdownToRstBlocks(source, { rewriteLink: rstLinkTarget, sections }));
      continue;
    }
    if (cell.cell_type === "raw") {
      const format = String(cell.metadata.format ?? cell.metadata.raw_mimetype ?? "");
      if (RST_RAW_FORMATS.has(format) && source.trim() !== "") blocks.push({ text: source.replace(/\n+$/, ""), kind: "indented" });
      continue;
    }
    if (!tags.includes("hide-input")) {
      const code = literalBlock(source);
      if (code) blocks.push({ text: code, kind: "indented" });
    }
    if (tags.includes("hide-output")) continue;
    for (const part of await outputParts(cell.outputs ?? [])) {
      if (part.kind === "text" || part.kind === "error") {
        const block = literalBlock(part.text);
        if (block) blocks.push({ text: block, kind: "indented" });
      } else if (part.kind === "figure") {
        const name = figureFileName(options.stem, files.length + 1, part.format);
        files.push({ name, content: part.content });
        blocks.push({ text: directive("figure", name, { alt: part.alt }), kind: "indented" });
      } else if (part.kind === "claim") {
        blocks.push({ text: claimParagraph(part), kind: "plain" });
      } else {
        blocks.push({ text: directive("raw", "html", {}, part.html.replace(/\n+$/, "")), kind: "indented" });
      }
    }
  }
  return { text: join(blocks) + "\n", files };
}
