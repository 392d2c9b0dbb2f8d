import { existsSync, statSync } from "node:fs";
import { relative } from "node:path";
import type { Command } from "commander";
import { EXPORT_FORMATS, exportNotebook, NotebookExportError, type ExportFormat } from "../../docs-site/export/export-notebook.js";
import { NotebookFormatError } from "../../kernel-lib/kernel/notebook.js";
import { UsageError } from "../errors.js";

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("execute a notebook and write it as reStructuredText (Sphinx-clean, for the kernel's Documentation/) or Markdown, figures as files beside it")
    .argument("<notebook>", "the .ipynb file")
    .option("--to <format>", `the output format: ${EXPORT_FORMATS.join(" or ")} (required)`)
    .option("--out <dir>", "the folder to write into", ".")
    .action(async (notebook: string, opts: { to?: string; out: string }) => {
      // checked here rather than by commander, so that a wrong format is one line like every other user error
      if (opts.to === undefined) throw new UsageError(`export needs --to ${EXPORT_FORMATS.join("|")}`);
      if (!(EXPORT_FORMATS as readonly string[]).includes(opts.to)) throw new UsageError(`--to ${opts.to}: not a format export writes; choose ${EXPORT_FORMATS.join(" or ")}`);
      const to = opts.to as ExportFormat;
      if (!existsSync(notebook)) throw new UsageError(`${notebook}: no such file`);
      if (!statSync(notebook).isFile() || !notebook.endsWith(".ipynb")) throw new UsageError(`${notebook}: not a notebook (.ipynb)`);
      if (existsSync(opts.out) && !statSync(opts.out).isDirectory()) throw new UsageError(`--out ${opts.out}: not a folder`);
      try {
        const { written } = await exportNotebook(notebook, { to, out: opts.out });
        for (const file of written) process.stdout.write(`${relative(process.cwd(), file) || file}\n`);
      } catch (err) {
        if (err instanceof NotebookExportError || err instanceof NotebookFormatError) throw new UsageError(err.message, 1);
        throw err;
      }
    });
}
