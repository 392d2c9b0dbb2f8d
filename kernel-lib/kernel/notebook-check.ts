import { readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { nbformatProblems } from "./nbformat-validate.js";
import { parseNotebook, serializeNotebook, type Notebook } from "./notebook.js";
import type { BackendKind } from "./cell-skips.js";
import { runNotebookContent, type CellFailure, type RunProgress, type SkippedCell } from "./runner.js";

/**
 * Executes many notebooks, each in a kernel process of its own, a few at a time: the engine of
 * `vfio-workbench check` and of the docs build. A notebook that is not valid nbformat 4.5 is
 * reported and not executed: what the site publishes and what Jupyter opens must be the same file.
 */

export interface NotebookRun {
  /** as given */
  path: string;
  ok: boolean;
  seconds: number;
  codeCells: number;
  executedCells: number;
  failures: CellFailure[];
  /** cells the backend does not run, with why */
  skippedCells: SkippedCell[];
  /** nbformat 4.5 problems; the notebook was not executed when there are any */
  invalid: string[];
  /** the executed notebook, outputs filled in (as read, when invalid) */
  notebook: Notebook;
}

export interface ExecuteNotebooksOptions {
  /** notebooks executed at once (default: the machine's parallelism) */
  jobs?: number;
  /** per-cell limit in seconds (default 120) */
  timeoutSeconds?: number;
  /** called as each notebook finishes, in finishing order, with its position in `paths` */
  onDone?: (run: NotebookRun, index: number) => void;
  env?: NodeJS.ProcessEnv;
  /** the backend the notebooks' createBackend() picks (default "emu"); see RunOptions.backend */
  backend?: BackendKind;
  /** hazard tags whose cells run on the native backend all the same */
  allowTags?: readonly string[];
  /** how long a kernel may take to answer its first request (default 60 s; loading TypeScript takes most of it on a slow machine) */
  kernelStartTimeoutMs?: number;
  /** called as each cell of a notebook finishes */
  onCell?: (path: string, progress: RunProgress) => void;
}

export const DEFAULT_CELL_TIMEOUT_SECONDS = 120;

/** The lines that say why a run failed, one per failing cell (or nbformat problem), each naming the notebook and the cell. */
export function runFailureLines(run: NotebookRun, name = run.path): string[] {
  if (run.invalid.length > 0) return run.invalid.map((problem) => `${name}: not valid nbformat 4.5: ${problem}`);
  return run.failures.map((f) => `${name}: cell ${f.index}/${run.codeCells} (id ${f.cellId}): ${f.kind === "error" ? "" : `${f.kind}: `}${f.message.split("\n")[0]}`);
}

/** The notebooks of a folder, sorted by name (their reading order: 00-…, 01-…). */
export function listNotebooks(dir = "notebooks"): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".ipynb") && !name.startsWith("."))
    .sort()
    .map((name) => join(dir, name));
}

export function defaultJobs(): number {
  return availableParallelism();
}

/** Reads, validates and executes one notebook in a fresh kernel. */
export async function executeNotebook(path: string, options: Omit<ExecuteNotebooksOptions, "jobs" | "onDone"> = {}): Promise<NotebookRun> {
  const started = performance.now();
  const text = await readFile(path, "utf8");
  const notebook = parseNotebook(text, path);
  const codeCells = notebook.cells.filter((c) => c.cell_type === "code").length;
  const invalid = nbformatProblems(JSON.parse(text));
  if (invalid.length > 0) {
    return { path, ok: false, seconds: (performance.now() - started) / 1000, codeCells, executedCells: 0, failures: [], skippedCells: [], invalid, notebook };
  }
  const result = await runNotebookContent(notebook, {
    cwd: dirname(resolve(path)),
    timeoutSeconds: options.timeoutSeconds ?? DEFAULT_CELL_TIMEOUT_SECONDS,
    env: options.env,
    backend: options.backend,
    allowTags: options.allowTags,
    kernelStartTimeoutMs: options.kernelStartTimeoutMs,
    onProgress: options.onCell ? (progress) => options.onCell!(path, progress) : undefined,
  });
  return {
    path,
    ok: result.ok,
    seconds: (performance.now() - started) / 1000,
    codeCells,
    executedCells: result.executedCells,
    failures: result.failures,
    skippedCells: result.skippedCells,
    invalid,
    notebook: result.notebook,
  };
}

/**
 * Runs `tasks` with at most `jobs` in flight; results keep the tasks' order. A task that throws
 * (a notebook that cannot be read, a kernel that cannot start) rejects the whole batch.
 */
export async function inPool<T>(tasks: ReadonlyArray<() => Promise<T>>, jobs: number): Promise<T[]> {
  if (!Number.isInteger(jobs) || jobs < 1) throw new RangeError(`jobs must be a positive integer, got ${jobs}`);
  const results = new Array<T>(tasks.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  return results;
}

/** Executes every notebook, `jobs` at a time, each in its own kernel process; results in the order given. */
export function executeNotebooks(paths: readonly string[], options: ExecuteNotebooksOptions = {}): Promise<NotebookRun[]> {
  const tasks = paths.map((path, index) => async () => {
    const run = await executeNotebook(path, options);
    options.onDone?.(run, index);
    return run;
  });
  return inPool(tasks, options.jobs ?? defaultJobs());
}

export interface OutputDifference {
  /** 1-based position among the code cells */
  index: number;
  cellId: string;
  first: string;
  second: string;
}

/** What a cell showed, in the form it is saved in, for comparing two executions. */
function savedOutputs(notebook: Notebook): Array<{ id: string; text: string }> {
  const saved = JSON.parse(serializeNotebook(notebook)) as Notebook;
  return saved.cells
    .filter((cell) => cell.cell_type === "code")
    .map((cell) => ({ id: cell.id ?? "", text: JSON.stringify({ execution_count: cell.execution_count, outputs: cell.outputs }) }));
}

/** The code cells whose saved outputs differ between two executions of one notebook. */
export function outputDifferences(first: Notebook, second: Notebook): OutputDifference[] {
  const a = savedOutputs(first);
  const b = savedOutputs(second);
  const differences: OutputDifference[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i]?.text === b[i]?.text) continue;
    differences.push({ index: i + 1, cellId: a[i]?.id ?? b[i]?.id ?? "", first: a[i]?.text ?? "(no cell)", second: b[i]?.text ?? "(no cell)" });
  }
  return differences;
}

/** Where two strings first differ, with a little context either side: what a reader needs to see. */
export function firstDifference(a: string, b: string, context = 60): { at: number; first: string; second: string } {
  let at = 0;
  while (at < a.length && at < b.length && a[at] === b[at]) at++;
  const from = Math.max(0, at - context);
  return { at, first: a.slice(from, at + context), second: b.slice(from, at + context) };
}
