import { existsSync, statSync } from "node:fs";
import { relative } from "node:path";
import { Option, type Command } from "commander";
import { EXPORT_FORMATS, exportNotebook, NotebookExportError, type ExportFormat } from "../../docs-site/export/export-notebook.js";
import { NotebookFormatError } from "../../kernel-lib/kernel/notebook.js";
import { UsageError } from "../errors.js";

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("execute a notebook and write it as reStructuredText (Sphinx-clean, for the kernel's Documentation/) or Markdown, figures as files beside it")
    .argument("<notebook>", "the .ipynb file")
    .addOption(new Option("--to <format>", "the output format").choices(EXPORT_FORMATS).makeOptionMandatory())
    .option("--out <dir>", "the folder to write into", ".")
    .action(async (notebook: string, opts: { to: ExportFormat; out: string }) => {
      if (!existsSync(notebook)) throw new UsageError(`${notebook}: no such file`);
      if (!statSync(notebook).isFile() || !notebook.endsWith(".ipynb")) throw new UsageError(`${notebook}: not a notebook (.ipynb)`);
      if (existsSync(opts.out) && !statSync(opts.out).isDirectory()) throw new UsageError(`--out ${opts.out}: not a folder`);
      try {
        const { written } = await exportNotebook(notebook, opts);
        for (const file of written) process.stdout.write(`${relative(process.cwd(), file) || file}\n`);
      } catch (err) {
        if (err instanceof NotebookExportError || err instanceof NotebookFormatError) throw new UsageError(err.message, 1);
        throw err;
      }
    });
}
