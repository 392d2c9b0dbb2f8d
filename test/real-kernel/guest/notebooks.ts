/**
 * The notebooks, executed in the guest by the engine of `vfio-workbench check --backend
 * native`: one Jupyter kernel process per notebook (this package's, on tslab), driven over
 * ZeroMQ, each cell compiled and type-checked as in Jupyter, createBackend() finding the mtty
 * instances on /dev/vfio by what each notebook asks for. Cells tagged emulator-only, and those
 * that use what a skipped cell declared, are skipped with their reason in their output.
 *
 * Each executed notebook goes back to the host on the results channel: a `notebook` record
 * (cells run, skipped and why, failures) and the .ipynb in base64 slices.
 */
import { NEEDS_BLOCKED_ARC_FIX_TAG } from "../../../kernel-lib/kernel/cell-skips.js";
import { availableParallelism } from "node:os";
import { executeNotebook, inPool, type NotebookRun } from "../../../kernel-lib/kernel/notebook-check.js";
import { serializeNotebook } from "../../../kernel-lib/kernel/notebook.js";
import { notebookRecords, type NotebookCellNote } from "../shared/protocol.js";
import type { Reporter } from "./report.js";

/**
 * The hazard tags the guest opts in to. needs-blocked-arc-fix: the guest kernel is built from
 * Debian's linux-source-6.12 (6.12.118-1~deb12u1), which carries "vfio: prevent infinite loop
 * in vfio_mig_get_next_state() on blocked arc" (backported to stable; see the uAPI reference on
 * the blocked arcs, notebooks/01-uapi-tour.ipynb's cell "blocked-text", and
 * kernel-lib/kernel/cell-skips.ts). On a kernel without it these cells would hang the guest
 * with a soft lockup, which the host sees as a missing sentinel.
 */
export const GUEST_ALLOW_TAGS: readonly string[] = [NEEDS_BLOCKED_ARC_FIX_TAG];

export interface GuestNotebookOptions {
  /** per cell: generous, since tslab's type checker is slow under TCG */
  timeoutSeconds: number;
  kernelStartTimeoutMs: number;
}

function summaryOf(run: NotebookRun): Parameters<typeof notebookRecords>[0] {
  const skipped: NotebookCellNote[] = run.skippedCells.map((c) => ({ index: c.index, cellId: c.cellId, cause: c.cause, message: c.reason }));
  const failures: NotebookCellNote[] = run.failures.map((f) => ({ index: f.index, cellId: f.cellId, cause: f.kind, message: f.message.split("\n")[0]! }));
  return { path: run.path, codeCells: run.codeCells, executedCells: run.executedCells, skipped, failures, invalid: run.invalid, seconds: Math.round(run.seconds * 10) / 10 };
}

/**
 * Executes each notebook (paths relative to the working directory, /pkg), as many at once as the
 * guest has CPUs (one today: the guest kernel is built without SMP), and reports each as it finishes: its records are sent in one go, so two
 * notebooks' slices never interleave. Two notebooks that both ask createBackend() for the mtty
 * instances at once would compete for them (a device another process holds is not offered): the
 * one left without fails with createBackend's "no free device". With one CPU they run one at a
 * time; 00-first-migration and 07-conformance ask, and 00 resets its devices before it ends (mtty
 * keeps its migration state across close).
 */
export async function runNotebookTests(r: Reporter, paths: readonly string[], options: GuestNotebookOptions): Promise<void> {
  const tasks = paths.map((path) => () => runOne(r, path, options));
  await inPool(tasks, availableParallelism());
}

async function runOne(r: Reporter, path: string, options: GuestNotebookOptions): Promise<void> {
  let run: NotebookRun;
  try {
    run = await executeNotebook(path, {
      backend: "native",
      allowTags: GUEST_ALLOW_TAGS,
      timeoutSeconds: options.timeoutSeconds,
      kernelStartTimeoutMs: options.kernelStartTimeoutMs,
      onCell: (_, p) => console.log(`# ${path}: cell ${p.index}/${p.total} ${p.status} ${p.seconds.toFixed(1)} s`),
    });
  } catch (e) {
    r.result("notebooks", path, false, `not executed: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  for (const record of notebookRecords(summaryOf(run), serializeNotebook(run.notebook))) r.record(record);
  const detail = `${run.executedCells}/${run.codeCells} cells run, ${run.skippedCells.length} skipped, ${run.failures.length} failed, ${run.seconds.toFixed(1)} s`;
  const first = run.failures[0];
  r.result("notebooks", path, run.ok, first ? `${detail}; cell ${first.index} (id ${first.cellId}): ${first.message.split("\n")[0]}` : detail);
}
