/**
 * The host's side of the notebooks executed in the guest: which ones, with what limits, and
 * what came back — one line per notebook (cells run, skipped and why, failures), the problems
 * that fail the run, and the executed .ipynb files.
 */
import { joinSource, parseNotebook } from "../../../kernel-lib/kernel/notebook.js";
import { notebookFile, type GuestRecord, type NotebookPart, type NotebookRecord } from "../shared/protocol.js";

/**
 * The notebooks the guest executes against mtty (issue #16): 00, 01 and 07 run in full; 03 and
 * 04 run their cells that do not need the emulator's lab (the rest are tagged emulator-only).
 */
export const GUEST_NOTEBOOKS: readonly string[] = [
  "notebooks/00-first-migration.ipynb",
  "notebooks/01-uapi-tour.ipynb",
  "notebooks/03-irq-restore.ipynb",
  "notebooks/04-dirty-tracking.ipynb",
  "notebooks/07-conformance.ipynb",
];

/** REAL_KERNEL_NOTEBOOKS: which of GUEST_NOTEBOOKS a run executes. */
export const NOTEBOOK_SELECTIONS = ["devices", "all", "none"] as const;

/** Whether a notebook's code asks createBackend() for its devices, which the guest then finds on /dev/vfio. */
export function reachesHostDevices(notebookJson: string, path: string): boolean {
  return parseNotebook(notebookJson, path).cells.some((c) => c.cell_type === "code" && /\bcreateBackend\(/.test(joinSource(c.source)));
}

/**
 * The notebooks a run executes in the guest, by REAL_KERNEL_NOTEBOOKS: "devices" (the default,
 * and CI's) those whose cells reach the guest's devices through createBackend(); "all" every one
 * of GUEST_NOTEBOOKS, the others' cells building emulated machines inside the guest (minutes more
 * under TCG); "none" none.
 */
export function selectGuestNotebooks(setting: string | undefined, read: (path: string) => string): string[] {
  const choice = setting === undefined || setting === "" ? "devices" : setting;
  if (!(NOTEBOOK_SELECTIONS as readonly string[]).includes(choice)) {
    throw new Error(`REAL_KERNEL_NOTEBOOKS must be ${NOTEBOOK_SELECTIONS.join(", ")} or unset (devices), not ${JSON.stringify(setting)}`);
  }
  if (choice === "none") return [];
  return GUEST_NOTEBOOKS.filter((path) => choice === "all" || reachesHostDevices(read(path), path));
}

/** The guest's limits. tslab type-checks every cell, which under TCG takes many times as long as on the host. */
export const GUEST_NOTEBOOK_OPTIONS = { timeoutSeconds: 600, kernelStartTimeoutMs: 300_000 };

export interface NotebookReport {
  path: string;
  /** the line printed for it */
  line: string;
  /** what fails the run, each naming the notebook (and the cell) */
  problems: string[];
  /** the executed notebook, or null when it did not come back whole */
  file: string | null;
  record: NotebookRecord | null;
}

/** "2 skipped (emulator-only 1, dependency 1)", by the cause of each skip, in the order first seen. */
function skippedText(record: NotebookRecord): string {
  const byCause = new Map<string, number>();
  for (const s of record.skipped) byCause.set(s.cause, (byCause.get(s.cause) ?? 0) + 1);
  const causes = [...byCause].map(([cause, n]) => `${cause} ${n}`).join(", ");
  return `${record.skipped.length} skipped${causes ? ` (${causes})` : ""}`;
}

/** Checks the records of each expected notebook and puts its file back together. */
export function notebookReports(records: readonly GuestRecord[], expected: readonly string[]): NotebookReport[] {
  const summaries = records.filter((r): r is NotebookRecord => r.t === "notebook");
  const parts = records.filter((r): r is NotebookPart => r.t === "ipynb");
  const paths = [...expected, ...summaries.map((s) => s.path).filter((p) => !expected.includes(p))];
  return paths.map((path): NotebookReport => {
    const mine = summaries.filter((s) => s.path === path);
    if (!expected.includes(path)) return { path, line: `${path}: not asked for`, problems: [`${path}: the guest sent a notebook the host did not ask for`], file: null, record: null };
    if (mine.length === 0) return { path, line: `${path}: not executed (no record from the guest)`, problems: [`${path}: the guest sent no record of it`], file: null, record: null };
    const record = mine[0]!;
    const problems: string[] = [];
    if (mine.length > 1) problems.push(`${path}: the guest sent ${mine.length} records of it`);
    if (record.invalid.length > 0) {
      for (const p of record.invalid) problems.push(`${path}: not valid nbformat 4.5: ${p}`);
      return { path, line: `${path}: not executed (invalid nbformat)`, problems, file: null, record };
    }
    for (const f of record.failures) problems.push(`${path}: cell ${f.index}/${record.codeCells} (id ${f.cellId}): ${f.cause === "error" ? "" : `${f.cause}: `}${f.message}`);
    const accounted = record.executedCells + record.skipped.length;
    if (accounted !== record.codeCells) problems.push(`${path}: ${record.codeCells} code cells, but ${record.executedCells} ran and ${record.skipped.length} were skipped`);
    if (record.executedCells === 0) problems.push(`${path}: no cell ran`);
    let file: string | null = null;
    try {
      file = notebookFile(record, parts);
      JSON.parse(file);
    } catch (e) {
      problems.push(`${path}: the executed notebook did not come back: ${e instanceof Error ? e.message : String(e)}`);
      file = null;
    }
    const line = `${path}: ${record.executedCells} cells run, ${skippedText(record)}, ${record.failures.length} failed (${record.seconds.toFixed(1)} s in the guest)`;
    return { path, line, problems, file, record };
  });
}

/** The skip reasons of a notebook, one line each, for the log under its line. */
export function skipLines(record: NotebookRecord): string[] {
  return record.skipped.map((s) => `    cell ${s.index} (id ${s.cellId}): ${s.message}`);
}
