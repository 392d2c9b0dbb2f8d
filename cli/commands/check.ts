import { existsSync, statSync } from "node:fs";
import { relative } from "node:path";
import type { Command } from "commander";
import { defaultJobs, executeNotebooks, firstDifference, listNotebooks, outputDifferences, type NotebookRun } from "../../kernel-lib/kernel/notebook-check.js";
import { NotebookFormatError } from "../../kernel-lib/kernel/notebook.js";
import { KernelError } from "../../kernel-lib/kernel/kernel-error.js";
import { UsageError } from "../errors.js";

interface CheckFlags {
  jobs?: string;
  twice?: boolean;
  timeout?: string;
}

function positive(text: string | undefined, flag: string, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} takes a positive ${integer ? "integer" : "number"}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** The notebooks named: files as given, folders expanded to their notebooks; none given means notebooks/. */
function notebookPaths(args: string[]): string[] {
  const paths: string[] = [];
  for (const arg of args.length > 0 ? args : ["notebooks"]) {
    if (!existsSync(arg)) throw new UsageError(`${arg}: no such file or folder`);
    if (statSync(arg).isDirectory()) paths.push(...listNotebooks(arg));
    else if (arg.endsWith(".ipynb")) paths.push(arg);
    else throw new UsageError(`${arg}: not a notebook (.ipynb) or a folder of notebooks`);
  }
  if (paths.length === 0) throw new UsageError(`no notebooks in ${args.join(", ") || "notebooks"}`);
  return [...new Set(paths)];
}

function display(path: string): string {
  return relative(process.cwd(), path) || path;
}

/** The lines that say why a run failed, each naming the notebook and the cell. */
function failureLines(run: NotebookRun): string[] {
  const name = display(run.path);
  if (run.invalid.length > 0) return run.invalid.map((problem) => `${name}: not valid nbformat 4.5: ${problem}`);
  return run.failures.map((f) => `${name}: cell ${f.index}/${run.codeCells} (id ${f.cellId}): ${f.kind === "error" ? "" : `${f.kind}: `}${f.message.split("\n")[0]}`);
}

function progressLine(run: NotebookRun, pass?: string): string {
  const result = run.invalid.length > 0 ? "invalid" : run.ok ? "ok" : "FAILED";
  const cells = run.invalid.length > 0 ? `${run.codeCells} cells, not run` : `${run.executedCells}/${run.codeCells} cells`;
  return `${display(run.path)}${pass ? ` (${pass})` : ""}  ${cells}  ${run.seconds.toFixed(1)} s  ${result}`;
}

export function registerCheck(program: Command): void {
  program
    .command("check")
    .description(
      "execute notebooks, each in its own kernel, and fail on any failing cell or invalid notebook file; with --twice, also on any output that differs between two runs",
    )
    .argument("[paths...]", "notebooks or folders of notebooks (default: notebooks/)")
    .option("-j, --jobs <n>", `notebooks run at once (default: the number of cores, ${defaultJobs()} here)`)
    .option("--twice", "run every notebook twice and fail on any difference in outputs (the determinism check)")
    .option("--timeout <seconds>", "per-cell limit; a slower cell is interrupted and fails the check (default 120)")
    .action(async (args: string[], flags: CheckFlags) => {
      const jobs = positive(flags.jobs, "--jobs", true);
      const timeoutSeconds = positive(flags.timeout, "--timeout", false);
      const paths = notebookPaths(args);
      const queue = flags.twice ? [...paths, ...paths] : paths;
      const pass = (index: number) => (flags.twice ? (index < paths.length ? "first run" : "second run") : undefined);
      const started = performance.now();
      let runs: NotebookRun[];
      try {
        runs = await executeNotebooks(queue, {
          jobs,
          timeoutSeconds,
          onDone: (run, index) => process.stderr.write(`${progressLine(run, pass(index))}\n`),
        });
      } catch (err) {
        if (err instanceof NotebookFormatError || err instanceof KernelError) throw new UsageError(err.message, 1);
        throw err;
      }
      const problems: string[] = [];
      const failedNotebooks = new Set<string>();
      paths.forEach((path, i) => {
        const lines = failureLines(runs[i]!);
        if (flags.twice) {
          const [first, second] = [runs[i]!, runs[i + paths.length]!];
          lines.push(...failureLines(second).filter((line) => !lines.includes(line)));
          // outputs are compared only when both runs completed; a failure is reported already
          if (first.ok && second.ok) {
            for (const d of outputDifferences(first.notebook, second.notebook)) {
              const at = firstDifference(d.first, d.second);
              lines.push(`${display(path)}: cell ${d.index}/${first.codeCells} (id ${d.cellId}): output differs between two runs: …${at.first}… vs …${at.second}…`);
            }
          }
        }
        if (lines.length > 0) failedNotebooks.add(path);
        problems.push(...lines);
      });
      const seconds = (performance.now() - started) / 1000;
      process.stderr.write(
        `${paths.length} notebook${paths.length === 1 ? "" : "s"}${flags.twice ? ", each run twice" : ""}: ` +
          `${paths.length - failedNotebooks.size} passed, ${failedNotebooks.size} failed, ${seconds.toFixed(1)} s\n`,
      );
      for (const line of problems) process.stderr.write(`vfio-workbench: ${line}\n`);
      if (problems.length > 0) process.exitCode = 1;
    });
}
