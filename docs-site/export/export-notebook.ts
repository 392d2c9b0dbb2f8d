/**
 * `vfio-workbench export`: executes a notebook with the engine `check` and the site use, then
 * writes it as reStructuredText or Markdown, its figures beside it. A notebook that does not
 * run cleanly is not exported: the document would show what the code no longer does.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { executeNotebook, type NotebookRun } from "../../kernel-lib/kernel/notebook-check.js";
import type { ExportedDocument } from "./exported-document.js";
import { notebookToMarkdown } from "./notebook-to-md.js";
import { notebookToRst } from "./notebook-to-rst.js";

export const EXPORT_FORMATS = ["rst", "md"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The notebook did not run cleanly; the message names it, and each failing cell. */
export class NotebookExportError extends Error {
  override name = "NotebookExportError";
}

export interface ExportResult {
  run: NotebookRun;
  /** the document, then its figures, as written */
  written: string[];
}

/** The lines that say why a run failed, each naming the notebook and the cell. */
function failureSummary(run: NotebookRun): string {
  if (run.invalid.length > 0) return `${run.path}: not valid nbformat 4.5: ${run.invalid[0]}`;
  const f = run.failures[0]!;
  const more = run.failures.length > 1 ? ` (and ${run.failures.length - 1} more failing cells)` : "";
  return `${run.path}: cell ${f.index}/${run.codeCells} (id ${f.cellId}): ${f.message.split("\n")[0]}${more}`;
}

/** Converts an executed notebook; `source` is the name the document says it came from. */
export function convertNotebook(run: NotebookRun, to: ExportFormat, source: string): Promise<ExportedDocument> {
  const stem = basename(run.path).replace(/\.ipynb$/, "");
  return to === "rst" ? notebookToRst(run.notebook, { stem, source }) : notebookToMarkdown(run.notebook, { stem, source });
}

export async function exportNotebook(path: string, options: { to: ExportFormat; out: string; timeoutSeconds?: number }): Promise<ExportResult> {
  const run = await executeNotebook(path, { timeoutSeconds: options.timeoutSeconds });
  if (!run.ok) throw new NotebookExportError(failureSummary(run));
  const document = await convertNotebook(run, options.to, basename(path));
  const out = resolve(options.out);
  await mkdir(out, { recursive: true });
  const target = join(out, `${basename(path).replace(/\.ipynb$/, "")}.${options.to}`);
  await writeFile(target, document.text);
  const written = [target];
  for (const file of document.files) {
    await writeFile(join(out, file.name), file.content);
    written.push(join(out, file.name));
  }
  return { run, written };
}
