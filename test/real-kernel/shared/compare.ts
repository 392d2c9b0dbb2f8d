/**
 * Comparing the real kernel's record of the scripted calls with the
 * emulator's, call by call, against the checked-in list of known differences
 * (known-differences.json). A difference is "known" only when the list names
 * its step with exactly the results both sides gave: if either side changes
 * its answer, the difference is unexpected again and needs a fresh look.
 */
import type { DiffRecord, OutValue } from "./differential.js";

export interface KnownDifference {
  /** the step's name in the differential script */
  step: string;
  /** the real kernel's result, as `summarize` renders it */
  real: string;
  /** the emulator's result, as `summarize` renders it */
  emulated: string;
  /** why the emulator differs here, and why that is acceptable (or what would fix it) */
  reason: string;
}

/**
 * A notebook cell whose outputs differ between the guest (native backend, the kernel's mtty) and
 * the host's emulator, with both outputs as `cellOutputsText` renders them and the reason.
 */
export interface KnownCellDifference {
  /** the notebook's path in the repository, e.g. notebooks/07-conformance.ipynb */
  notebook: string;
  /** the cell's id */
  cell: string;
  native: string;
  emulated: string;
  reason: string;
}

export interface KnownDifferences {
  /** what the file is, for people opening it */
  about?: string;
  differences: KnownDifference[];
  /** the notebook cells whose outputs may differ, and why */
  notebookCells?: KnownCellDifference[];
}

export type ComparisonStatus = "same" | "known" | "unexpected";

/** One field that differs: the result itself, or one field the call wrote back. */
export interface FieldDifference {
  field: string;
  real: string;
  emulated: string;
}

export interface Comparison {
  i: number;
  step: string;
  status: ComparisonStatus;
  real: string;
  emulated: string;
  fields: FieldDifference[];
  /** for a known difference: the listed reason */
  reason?: string;
}

export interface ComparisonResult {
  comparisons: Comparison[];
  /** listed differences that this run did not show (fixed, or changed into another difference) */
  stale: KnownDifference[];
  /** the two runs do not line up call by call (different lengths or step names) */
  structural: string[];
}

/** One line for a record: the result, then what the call wrote back. */
export function summarize(r: DiffRecord | undefined): string {
  if (!r) return "(no call)";
  return r.out ? `${r.result} ${JSON.stringify(r.out)}` : r.result;
}

function show(v: OutValue | undefined): string {
  return v === undefined ? "(absent)" : typeof v === "string" ? v : String(v);
}

/**
 * Hex byte strings are compared byte by byte: each side shows only its runs of
 * differing bytes, as "@offset: bytes" (at most six runs).
 */
function bytesDifference(real: string, emu: string): { real: string; emulated: string } | null {
  if (!/^[0-9a-f]*$/.test(real) || !/^[0-9a-f]*$/.test(emu) || real.length % 2 || emu.length % 2) return null;
  const n = Math.max(real.length, emu.length) / 2;
  const byte = (h: string, b: number) => h.slice(2 * b, 2 * b + 2);
  const runs: [number, number][] = [];
  for (let b = 0; b < n; b++) {
    if (byte(real, b) === byte(emu, b)) continue;
    const last = runs.at(-1);
    if (last && last[1] === b) last[1] = b + 1;
    else runs.push([b, b + 1]);
  }
  const show = (h: string) => {
    const parts = runs.slice(0, 6).map(([a, z]) => `@0x${a.toString(16)}: ${h.slice(2 * a, 2 * z) || "(none)"}`);
    if (runs.length > 6) parts.push(`${runs.length - 6} more runs`);
    return `${parts.join(", ")} (${h.length / 2} bytes)`;
  };
  return { real: show(real), emulated: show(emu) };
}

/** The fields in which two records of the same step differ. */
export function fieldDifferences(real: DiffRecord | undefined, emu: DiffRecord | undefined): FieldDifference[] {
  if (!real || !emu) return [{ field: "call", real: summarize(real), emulated: summarize(emu) }];
  const out: FieldDifference[] = [];
  if (real.result !== emu.result) out.push({ field: "result", real: real.result, emulated: emu.result });
  const keys = new Set([...Object.keys(real.out ?? {}), ...Object.keys(emu.out ?? {})]);
  for (const k of keys) {
    const a = real.out?.[k];
    const b = emu.out?.[k];
    if (a === b) continue;
    const bytes = typeof a === "string" && typeof b === "string" && k === "bytes" ? bytesDifference(a, b) : null;
    out.push({ field: k, ...(bytes ?? { real: show(a), emulated: show(b) }) });
  }
  return out;
}

export function compareRuns(real: readonly DiffRecord[], emulated: readonly DiffRecord[], known: KnownDifferences): ComparisonResult {
  const structural: string[] = [];
  if (real.length !== emulated.length) structural.push(`the real run recorded ${real.length} calls, the emulated run ${emulated.length}`);
  const listed = new Map(known.differences.map((d) => [d.step, d]));
  const used = new Set<string>();
  const comparisons: Comparison[] = [];
  const n = Math.max(real.length, emulated.length);
  for (let i = 0; i < n; i++) {
    const a = real[i];
    const b = emulated[i];
    const step = a?.step ?? b!.step;
    if (a && b && a.step !== b.step) structural.push(`call ${i} is "${a.step}" in the real run but "${b.step}" in the emulated run`);
    const ra = summarize(a);
    const rb = summarize(b);
    if (ra === rb) {
      comparisons.push({ i, step, status: "same", real: ra, emulated: rb, fields: [] });
      continue;
    }
    const entry = listed.get(step);
    const isKnown = entry !== undefined && entry.real === ra && entry.emulated === rb;
    if (isKnown) used.add(step);
    comparisons.push({
      i,
      step,
      status: isKnown ? "known" : "unexpected",
      real: ra,
      emulated: rb,
      fields: fieldDifferences(a, b),
      ...(isKnown ? { reason: entry.reason } : {}),
    });
  }
  const stale = known.differences.filter((d) => !used.has(d.step));
  return { comparisons, stale, structural };
}

/** Problems with the list itself: duplicate steps, empty reasons. */
export function validateKnownDifferences(known: KnownDifferences): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const d of known.differences) {
    if (seen.has(d.step)) problems.push(`"${d.step}" is listed twice`);
    seen.add(d.step);
    if (!d.reason || d.reason.trim().length < 10) problems.push(`"${d.step}" has no reason`);
    if (d.real === d.emulated) problems.push(`"${d.step}" lists the same result on both sides`);
  }
  const cells = new Set<string>();
  for (const d of known.notebookCells ?? []) {
    const name = `${d.notebook} cell ${d.cell}`;
    if (cells.has(name)) problems.push(`${name} is listed twice`);
    cells.add(name);
    if (!d.reason || d.reason.trim().length < 10) problems.push(`${name} has no reason`);
    if (d.native === d.emulated) problems.push(`${name} lists the same outputs on both sides`);
  }
  return problems;
}
