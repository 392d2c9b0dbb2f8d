import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Command } from "commander";
import { KernelError } from "../../kernel-lib/kernel/kernel-error.js";
import { NotebookFormatError, serializeNotebook } from "../../kernel-lib/kernel/notebook.js";
import { runNotebook, RAISES_EXCEPTION_TAG } from "../../kernel-lib/kernel/runner.js";
import { UsageError } from "../errors.js";
import { positiveFlag } from "../flags.js";

interface RunFlags {
  output?: string;
  allowErrors?: boolean;
  timeout?: string;
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description(
      "execute a notebook in a fresh kernel and write it with its outputs; exits non-zero at the first failing cell (" +
        `a cell tagged ${RAISES_EXCEPTION_TAG} must fail, and fails the run if it does not)`,
    )
    .argument("<notebook>", "the .ipynb file to execute")
    .option("-o, --output <file>", "where to write the executed notebook (default: over the input; - for stdout)")
    .option(
      "--allow-errors",
      `keep going after failing cells, keeping their errors in the outputs; exit 0 unless a cell timed out or a ${RAISES_EXCEPTION_TAG} cell did not raise`,
    )
    .option("--timeout <seconds>", "per-cell limit; a slower cell is interrupted and fails the run")
    .action(async (notebookPath: string, flags: RunFlags) => {
      const timeoutSeconds = positiveFlag(flags.timeout, "--timeout", "seconds");
      let result;
      try {
        result = await runNotebook(notebookPath, {
          allowErrors: flags.allowErrors ?? false,
          timeoutSeconds,
          onProgress: (p) => {
            const note = p.status === "ok" ? (p.expectedError ? " did not raise" : "") : p.status === "error" && p.expectedError ? " raised, as tagged" : ` ${p.status}`;
            process.stderr.write(`cell ${p.index}/${p.total} (${p.seconds.toFixed(1)} s)${note}\n`);
          },
        });
      } catch (err) {
        // A missing or malformed notebook, or a kernel that cannot start, is the user's problem to fix, not a defect.
        if (err instanceof NotebookFormatError || err instanceof KernelError || (err as NodeJS.ErrnoException).code === "ENOENT") {
          throw new UsageError((err as Error).message, 1);
        }
        throw err;
      }
      const text = serializeNotebook(result.notebook);
      const output = flags.output ?? notebookPath;
      if (output === "-") process.stdout.write(text);
      else {
        await mkdir(dirname(output), { recursive: true });
        await writeFile(output, text);
      }
      for (const failure of result.failures) {
        process.stderr.write(`vfio-workbench: cell ${failure.index}/${result.notebook.cells.filter((c) => c.cell_type === "code").length} (id ${failure.cellId}) ${failure.kind === "error" ? "failed: " : ""}${failure.message}\n`);
      }
      if (!result.ok) process.exitCode = 1;
    });
}
