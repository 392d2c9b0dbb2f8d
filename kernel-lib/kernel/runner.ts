import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { KernelClient, KernelError } from "./client.js";
import { KERNEL_DISPLAY_NAME, KERNEL_LANGUAGE, KERNEL_NAME } from "./kernel-info.js";
import { BACKEND_ENV, CellDependencies, tagSkip, type BackendKind, type SkipDecision } from "./cell-skips.js";
import { cellTags, ensureCellIds, joinSource, OutputCollector, parseNotebook, type DisplayDataOutput, type Notebook, type Output } from "./notebook.js";

/**
 * Executes a notebook headless in a fresh kernel process (this package's kernel, driven over
 * ZeroMQ like any Jupyter client would) and returns the executed notebook.
 */

export const RAISES_EXCEPTION_TAG = "raises-exception";

export interface RunProgress {
  /** 1-based position among the notebook's code cells */
  index: number;
  total: number;
  /** position in notebook.cells */
  cellIndex: number;
  seconds: number;
  status: "ok" | "error" | "timeout";
  /** the cell is tagged raises-exception: an error is what it should produce */
  expectedError: boolean;
}

export interface RunOptions {
  /** keep going after a cell fails, keeping the error in its outputs (a cell tagged raises-exception that does not raise still fails the run) */
  allowErrors?: boolean;
  /** per cell; a cell running longer is interrupted and fails the run */
  timeoutSeconds?: number;
  /** how long an interrupted cell gets to stop before the kernel is killed (default 5) */
  interruptGraceSeconds?: number;
  /** the kernel's working directory; defaults to the notebook's folder */
  cwd?: string;
  onProgress?: (progress: RunProgress) => void;
  kernelStartTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * The backend the cells' createBackend() picks (default "emu"), passed to the kernel in
   * VFIO_WORKBENCH_BACKEND. On "native", cells tagged emulator-only, and those tagged with a
   * hazard the user has not allowed, are skipped, and so is every cell that uses what a skipped
   * cell declared.
   */
  backend?: BackendKind;
  /** hazard tags whose cells run on the native backend all the same (e.g. needs-blocked-arc-fix) */
  allowTags?: readonly string[];
}

export interface SkippedCell {
  cellIndex: number;
  index: number;
  cellId: string;
  /** the tag that decided, or "dependency" */
  cause: string;
  reason: string;
}

export type FailureKind = "error" | "missing-expected-error" | "timeout" | "kernel-died";

export interface CellFailure {
  /** position in notebook.cells */
  cellIndex: number;
  /** 1-based position among the code cells, as progress reports count */
  index: number;
  cellId: string;
  kind: FailureKind;
  message: string;
}

export interface RunResult {
  notebook: Notebook;
  /** false when any cell failed (errors allowed by allowErrors do not count) */
  ok: boolean;
  failures: CellFailure[];
  /** errors that allowErrors let through, or that a raises-exception tag expected */
  toleratedErrors: CellFailure[];
  executedCells: number;
  /** cells not run on this backend, each with the line shown in its place */
  skippedCells: SkippedCell[];
}

/** What a skipped cell shows: its one line, and the reason as metadata a site or a differential can read. */
function skippedOutput(skip: SkipDecision): Output {
  return {
    output_type: "display_data",
    data: { "text/plain": [`⤼ ${skip.reason}`], "text/markdown": [`*⤼ ${skip.reason}*`] },
    metadata: { "vfio-workbench": { skipped: { cause: skip.cause, reason: skip.reason } } },
  };
}

/** Reads, executes and returns a notebook file. */
export async function runNotebook(path: string, options: RunOptions = {}): Promise<RunResult> {
  const absolute = resolve(path);
  const notebook = parseNotebook(await readFile(absolute, "utf8"), path);
  return runNotebookContent(notebook, { ...options, cwd: options.cwd ?? dirname(absolute) });
}

function errorSummary(content: Record<string, unknown>): string {
  return `${String(content.ename ?? "Error")}: ${String(content.evalue ?? "")}`;
}

/** Executes a parsed notebook (modified in place and returned) in a fresh kernel. */
export async function runNotebookContent(notebook: Notebook, options: RunOptions = {}): Promise<RunResult> {
  ensureCellIds(notebook);
  const codeCells = notebook.cells.flatMap((cell, index) => (cell.cell_type === "code" ? [index] : []));
  const failures: CellFailure[] = [];
  const toleratedErrors: CellFailure[] = [];
  const skippedCells: SkippedCell[] = [];
  const backend = options.backend ?? "emu";
  const dependencies = new CellDependencies();
  const displays = new Map<string, DisplayDataOutput[]>();
  let executedCells = 0;
  let stopped = false;

  const env = { ...(options.env ?? process.env), [BACKEND_ENV]: backend };
  const client = await KernelClient.start({ cwd: options.cwd ?? process.cwd(), env, startTimeoutMs: options.kernelStartTimeoutMs });
  try {
    const info = (await client.request("shell", "kernel_info_request", {})).reply.content;
    notebook.metadata.kernelspec = { name: KERNEL_NAME, display_name: KERNEL_DISPLAY_NAME, language: KERNEL_LANGUAGE };
    notebook.metadata.language_info = info.language_info;
    // The kernel builds its TypeScript converter on first use (about a second). A silent empty
    // request pays for that before the first cell, so --timeout measures only the cell's own time.
    if (options.timeoutSeconds !== undefined) await client.execute("", { silent: true, storeHistory: false });

    for (const [position, cellIndex] of codeCells.entries()) {
      const cell = notebook.cells[cellIndex]!;
      cell.outputs = [];
      cell.execution_count = null;
      if (stopped) continue;
      const cellId = cell.id!;
      const source = joinSource(cell.source);
      const skip = tagSkip(cellTags(cell), backend, options.allowTags) ?? (backend === "native" ? dependencies.dependencySkip(source) : null);
      if (backend === "native") dependencies.record(source, position + 1, skip !== null);
      if (skip) {
        cell.outputs = [skippedOutput(skip)];
        skippedCells.push({ cellIndex, index: position + 1, cellId, cause: skip.cause, reason: skip.reason });
        continue;
      }
      const expectError = cellTags(cell).includes(RAISES_EXCEPTION_TAG);
      const collector = new OutputCollector(displays);
      cell.outputs = collector.outputs;
      const started = performance.now();
      const index = position + 1;
      const fail = (kind: FailureKind, message: string) => failures.push({ cellIndex, index, cellId, kind, message });

      const execution = client.execute(source, {
        stopOnError: !(options.allowErrors || expectError),
        onMessage: (message) => collector.add(message.header.msg_type, message.content),
      });
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      if (options.timeoutSeconds !== undefined) {
        timer = setTimeout(() => {
          timedOut = true;
          client.interrupt().catch(() => undefined);
          // A cell that ignores the interrupt takes the kernel down with it.
          timer = setTimeout(() => client.process?.kill("SIGKILL"), (options.interruptGraceSeconds ?? 5) * 1000);
        }, options.timeoutSeconds * 1000);
      }
      let reply: Record<string, unknown>;
      try {
        reply = (await execution).reply.content;
      } catch (err) {
        if (!(err instanceof KernelError)) throw err;
        fail(timedOut ? "timeout" : "kernel-died", timedOut ? `did not finish within ${options.timeoutSeconds} s and ignored the interrupt` : err.message);
        const seconds = (performance.now() - started) / 1000;
        options.onProgress?.({ index, total: codeCells.length, cellIndex, seconds, status: timedOut ? "timeout" : "error", expectedError: expectError });
        stopped = true;
        continue;
      } finally {
        clearTimeout(timer);
      }
      executedCells++;
      cell.execution_count = typeof reply.execution_count === "number" ? reply.execution_count : null;
      const seconds = (performance.now() - started) / 1000;
      const status = reply.status === "ok" ? "ok" : "error";

      if (timedOut) {
        fail("timeout", `did not finish within ${options.timeoutSeconds} s (interrupted)`);
      } else if (status === "error" && expectError) {
        toleratedErrors.push({ cellIndex, index, cellId, kind: "error", message: errorSummary(reply) });
      } else if (status === "error" && options.allowErrors) {
        toleratedErrors.push({ cellIndex, index, cellId, kind: "error", message: errorSummary(reply) });
      } else if (status === "error") {
        fail("error", reply.status === "aborted" ? "the kernel aborted the cell" : errorSummary(reply));
      } else if (expectError) {
        fail("missing-expected-error", `is tagged ${RAISES_EXCEPTION_TAG} but completed without an error`);
      }
      options.onProgress?.({ index, total: codeCells.length, cellIndex, seconds, status: timedOut ? "timeout" : status, expectedError: expectError });
      if (failures.length > 0 && !options.allowErrors) stopped = true;
    }
  } finally {
    await client.shutdown();
  }
  return { notebook, ok: failures.length === 0, failures, toleratedErrors, executedCells, skippedCells };
}
