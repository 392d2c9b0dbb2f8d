import { existsSync, statSync } from "node:fs";
import { relative } from "node:path";
import type { Command } from "commander";
import { defaultJobs, executeNotebooks, firstDifference, listNotebooks, outputDifferences, runFailureLines, type NotebookRun } from "../../kernel-lib/kernel/notebook-check.js";
import { NotebookFormatError, serializeNotebook } from "../../kernel-lib/kernel/notebook.js";
import { KernelError } from "../../kernel-lib/kernel/kernel-error.js";
import { NATIVE_SKIP_TAGS, type BackendKind } from "../../kernel-lib/kernel/cell-skips.js";
import { readFileSync } from "node:fs";
import { ProjectCache } from "../../docs-site/cache.js";
import { packageInfo } from "../../kernel-lib/kernel/package-root.js";
import { UsageError } from "../errors.js";
import { positiveFlag } from "../flags.js";

interface CheckFlags {
  jobs?: string;
  twice?: boolean;
  timeout?: string;
  backend?: string;
  allow?: string;
}

const BACKENDS: readonly BackendKind[] = ["emu", "native"];
const OPT_IN_TAGS = Object.entries(NATIVE_SKIP_TAGS).flatMap(([tag, rule]) => (rule.optIn ? [tag] : []));

function backendFrom(text: string | undefined): BackendKind {
  if (text === undefined) return "emu";
  if (!(BACKENDS as readonly string[]).includes(text)) throw new UsageError(`--backend takes ${BACKENDS.join(" or ")}, got ${JSON.stringify(text)}`);
  return text as BackendKind;
}

function allowedTags(list: string | undefined, backend: BackendKind): string[] {
  const tags = list === undefined ? [] : list.split(",").map((t) => t.trim()).filter((t) => t !== "");
  for (const tag of tags) {
    if (!OPT_IN_TAGS.includes(tag)) throw new UsageError(`--allow takes a hazard tag (${OPT_IN_TAGS.join(", ")}), got ${JSON.stringify(tag)}`);
  }
  if (tags.length > 0 && backend !== "native") throw new UsageError("--allow applies to --backend native only: the emulator runs every cell");
  return tags;
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

/** ", 9 skipped (emulator-only 7, dependency 2)", or nothing when every cell ran. */
function skippedSummary(run: NotebookRun): string {
  if (run.skippedCells.length === 0) return "";
  const byCause = new Map<string, number>();
  for (const cell of run.skippedCells) byCause.set(cell.cause, (byCause.get(cell.cause) ?? 0) + 1);
  return `, ${run.skippedCells.length} skipped (${[...byCause].map(([cause, n]) => `${cause} ${n}`).join(", ")})`;
}

function progressLine(run: NotebookRun, pass?: string): string {
  const result = run.invalid.length > 0 ? "invalid" : run.ok ? "ok" : "FAILED";
  const cells = run.invalid.length > 0 ? `${run.codeCells} cells, not run` : `${run.executedCells}/${run.codeCells} cells${skippedSummary(run)}`;
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
    .option("--backend <emu|native>", "what the notebooks' createBackend() uses: the emulator (default) or /dev/vfio; native skips cells tagged emulator-only, cells with a hazard tag not allowed, and the cells that use what a skipped cell declared")
    .option("--allow <tags>", `on --backend native, run the cells with these hazard tags all the same, comma-separated (${OPT_IN_TAGS.join(", ")})`)
    .action(async (args: string[], flags: CheckFlags) => {
      const backend = backendFrom(flags.backend);
      const allowTags = allowedTags(flags.allow, backend);
      const jobs = positiveFlag(flags.jobs, "--jobs", "integer");
      const timeoutSeconds = positiveFlag(flags.timeout, "--timeout", "number");
      const paths = notebookPaths(args);
      const queue = flags.twice ? [...paths, ...paths] : paths;
      const pass = (index: number) => (flags.twice ? (index < paths.length ? "first run" : "second run") : undefined);
      const started = performance.now();
      const cache = backend === "emu" ? new ProjectCache(process.cwd(), packageInfo().root) : null;
      let runs: NotebookRun[];
      try {
        runs = await executeNotebooks(queue, {
          jobs,
          timeoutSeconds,
          backend,
          allowTags,
          onDone: (run, index) => {
            process.stderr.write(`${progressLine(run, pass(index))}\n`);
            // what the emulator ran clean is what `build` would run: leave it in the build cache
            if (cache && run.ok && index < paths.length) cache.put(readFileSync(run.path, "utf8"), serializeNotebook(run.notebook));
          },
        });
      } catch (err) {
        if (err instanceof NotebookFormatError || err instanceof KernelError) throw new UsageError(err.message, 1);
        throw err;
      }
      const problems: string[] = [];
      const failedNotebooks = new Set<string>();
      paths.forEach((path, i) => {
        const lines = runFailureLines(runs[i]!, display(runs[i]!.path));
        if (flags.twice) {
          const [first, second] = [runs[i]!, runs[i + paths.length]!];
          lines.push(...runFailureLines(second, display(second.path)).filter((line) => !lines.includes(line)));
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
