import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { serializeNotebook } from "../../kernel-lib/kernel/notebook.js";
import { notebookNameProblem, notebookTemplate } from "../../kernel-lib/kernel/notebook-template.js";
import { UsageError } from "../errors.js";

interface NewFlags {
  dir: string;
  title?: string;
}

export function registerNew(program: Command): void {
  program
    .command("new")
    .description("write a new notebook, DIR/NAME.ipynb, with the opening section, the backend chosen in one cell and a first claim; it passes check as it stands")
    .argument("<name>", "lower-case letters, digits and hyphens, e.g. 10-sriov-reset (no path, no .ipynb)")
    .option("--dir <folder>", "the folder to write into (created if missing)", "notebooks")
    .option("--title <text>", "the notebook's heading (default: from the name)")
    .action((name: string, flags: NewFlags) => {
      const problem = notebookNameProblem(name);
      if (problem) throw new UsageError(problem);
      if (flags.title !== undefined && flags.title.trim() === "") throw new UsageError("--title takes a non-empty heading");
      const path = join(flags.dir, `${name}.ipynb`);
      if (existsSync(path)) throw new UsageError(`${path} exists already; choose another name`, 1);
      mkdirSync(flags.dir, { recursive: true });
      // "wx": never overwrite, even a file that appeared since the check above
      writeFileSync(path, serializeNotebook(notebookTemplate(name, flags.title?.trim())), { flag: "wx" });
      process.stdout.write(`${path}\n`);
    });
}
