/**
 * fsmDiff(): compare the v2 migration path tables of two kernels (or of a table
 * a user supplies) and report every (from, to) request whose outcome changed.
 *
 * A table is vfio_from_fsm_table of vfio_mig_get_next_state() as one kernel
 * version has it, plus whether that version's skip loop stops at the ERROR
 * sentinel. Outcomes are computed the way that function computes them: first hop
 * from the table, then the skip loop over states the device's flags lack. On a
 * kernel whose loop does not stop at ERROR, a blocked arc (an entry that is
 * ERROR although both ends are supported) never leaves the loop: that outcome is
 * "soft lockup", not EINVAL.
 */
import { readTableFile } from "./read-table-file.js";
import { NEXT, FLAG_SETS, REQUIRES, findFlagSet, type MigState } from "../../hw-emu/uapi/migration-fsm.js";

/** state_flags_table of vfio_mig_get_next_state(): the migration flags each state needs (ERROR: ~0U), the same in every v2 kernel */
const STATE_FLAGS = REQUIRES;

const ALL_STATES: readonly MigState[] = ["STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P"];

/** One kernel's vfio_from_fsm_table (ERROR row and column left out: they are ERROR everywhere). */
export interface FsmTable {
  /** what to call it in output: a version ("6.2") or a file name */
  label: string;
  /** the states the table has rows for, in enum order */
  states: readonly MigState[];
  next: Readonly<Partial<Record<MigState, Readonly<Partial<Record<MigState, MigState>>>>>>;
  /** true from the fix "vfio: prevent infinite loop in vfio_mig_get_next_state() on blocked arc" */
  loopStopsAtError: boolean;
}

/** What a SET of `to` from `from` does on a device with the given flags. */
export type FsmOutcome = { kind: "path"; states: MigState[] } | { kind: "EINVAL" } | { kind: "soft lockup"; spinsOn: MigState };

/** A table written as one line per row: the next hop for each target, in the order of `states`. */
function table(states: readonly MigState[], rows: Readonly<Partial<Record<MigState, string>>>): FsmTable["next"] {
  const next: Partial<Record<MigState, Partial<Record<MigState, MigState>>>> = {};
  for (const from of states) {
    const hops = rows[from]!.split(/\s+/) as MigState[];
    next[from] = Object.fromEntries(states.map((to, i) => [to, hops[i]!]));
  }
  return next;
}

const FIVE: readonly MigState[] = ["STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P"];

/** vfio_from_fsm_table before PRE_COPY (drivers/vfio/vfio.c, v5.18 to v6.1); columns in FIVE's order */
const V5_18 = table(FIVE, {
  STOP: "STOP RUNNING_P2P STOP_COPY RESUMING RUNNING_P2P",
  RUNNING: "RUNNING_P2P RUNNING RUNNING_P2P RUNNING_P2P RUNNING_P2P",
  STOP_COPY: "STOP STOP STOP_COPY STOP STOP",
  RESUMING: "STOP STOP STOP RESUMING STOP",
  RUNNING_P2P: "STOP RUNNING STOP STOP RUNNING_P2P",
});

/** vfio_from_fsm_table from 4db52602a607 (drivers/vfio/vfio_main.c, v6.2 on); columns in ALL_STATES' order */
const V6_2 = table(ALL_STATES, {
  STOP: "STOP RUNNING_P2P STOP_COPY RESUMING RUNNING_P2P RUNNING_P2P RUNNING_P2P",
  RUNNING: "RUNNING_P2P RUNNING RUNNING_P2P RUNNING_P2P RUNNING_P2P PRE_COPY RUNNING_P2P",
  STOP_COPY: "STOP STOP STOP_COPY STOP STOP ERROR ERROR",
  RESUMING: "STOP STOP STOP RESUMING STOP STOP STOP",
  RUNNING_P2P: "STOP RUNNING STOP STOP RUNNING_P2P RUNNING PRE_COPY_P2P",
  PRE_COPY: "RUNNING RUNNING PRE_COPY_P2P RUNNING RUNNING PRE_COPY PRE_COPY_P2P",
  PRE_COPY_P2P: "RUNNING_P2P RUNNING_P2P STOP_COPY RUNNING_P2P RUNNING_P2P PRE_COPY PRE_COPY_P2P",
});

/**
 * The kernels' tables, written down from drivers/vfio of each version:
 * - 5.18: drivers/vfio/vfio.c, five states (v2 with RUNNING_P2P, no PRE_COPY); the same table through 6.1.
 * - 6.2: drivers/vfio/vfio_main.c after 4db52602a607 ("vfio: Extend the device migration protocol with
 *   PRE_COPY"): eight states, STOP_COPY -> PRE_COPY(_P2P) entries are ERROR, and the skip loop has no ERROR test.
 * - 7.2: the same table as 6.2; the skip loop stops at ERROR ("vfio: prevent infinite loop in
 *   vfio_mig_get_next_state() on blocked arc", a26b499b757c).
 * - current: the emulated kernel's own table (hw-emu/uapi/migration-fsm.ts), which models 7.2.
 */
const KERNELS: Readonly<Record<string, () => FsmTable>> = {
  "5.18": () => ({ label: "5.18", states: FIVE, next: V5_18, loopStopsAtError: false }),
  "6.2": () => ({ label: "6.2", states: ALL_STATES, next: V6_2, loopStopsAtError: false }),
  "7.2": () => ({ label: "7.2", states: ALL_STATES, next: V6_2, loopStopsAtError: true }),
  current: () => ({ label: "current", states: ALL_STATES, next: NEXT, loopStopsAtError: true }),
};

export const FSM_KERNEL_VERSIONS: readonly string[] = Object.keys(KERNELS);

/** A table fsmDiff() cannot use, with the reason in one line. */
export class FsmTableError extends Error {
  override name = "FsmTableError";
}

export function kernelFsmTable(version: string): FsmTable {
  const make = KERNELS[version];
  if (!make) throw new FsmTableError(`no path table for kernel "${version}"; known: ${FSM_KERNEL_VERSIONS.join(", ")} (or give a JSON table file)`);
  return make();
}

const isState = (s: unknown): s is MigState => typeof s === "string" && (ALL_STATES as readonly string[]).includes(s);

/**
 * A user's table: {"next": {FROM: {TO: NEXT_STATE}}, "loopStopsAtError"?: boolean}. Every row must
 * name every state the table has, and each entry must be one of them or ERROR.
 */
export function parseFsmTable(json: unknown, label: string): FsmTable {
  const where = `${label}:`;
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new FsmTableError(`${where} expected a JSON object with "next"`);
  const o = json as Record<string, unknown>;
  const next = o.next;
  if (typeof next !== "object" || next === null || Array.isArray(next)) throw new FsmTableError(`${where} "next" must be an object of rows {FROM: {TO: STATE}}`);
  if (o.loopStopsAtError !== undefined && typeof o.loopStopsAtError !== "boolean") throw new FsmTableError(`${where} "loopStopsAtError" must be true or false`);
  const rows = next as Record<string, unknown>;
  const states = Object.keys(rows);
  for (const s of states) if (!isState(s)) throw new FsmTableError(`${where} unknown state "${s}" in "next"`);
  if (!states.includes("STOP")) throw new FsmTableError(`${where} "next" has no STOP row`);
  const ordered = ALL_STATES.filter((s) => states.includes(s));
  for (const from of ordered) {
    const row = rows[from];
    if (typeof row !== "object" || row === null || Array.isArray(row)) throw new FsmTableError(`${where} row ${from} must be an object {TO: STATE}`);
    const r = row as Record<string, unknown>;
    for (const to of Object.keys(r)) if (!ordered.includes(to as MigState)) throw new FsmTableError(`${where} row ${from} has a column "${to}" that is not a row of the table`);
    for (const to of ordered) {
      const v = r[to];
      if (v === undefined) throw new FsmTableError(`${where} row ${from} lacks column ${to}`);
      if (v !== "ERROR" && !ordered.includes(v as MigState)) throw new FsmTableError(`${where} ${from} -> ${to} leads to "${String(v)}", which is neither a state of the table nor ERROR`);
    }
  }
  return { label, states: ordered, next: rows as FsmTable["next"], loopStopsAtError: o.loopStopsAtError === true };
}

/** A kernel version, or a path to a JSON table file. */
export function loadFsmTable(versionOrFile: string): FsmTable {
  if (KERNELS[versionOrFile]) return kernelFsmTable(versionOrFile);
  if (!/[/\\]|\.json$/i.test(versionOrFile)) return kernelFsmTable(versionOrFile);
  let text: string;
  try {
    text = readTableFile(versionOrFile);
  } catch (e) {
    throw new FsmTableError(`${versionOrFile}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FsmTableError(`${versionOrFile}: not JSON (${(e as Error).message})`);
  }
  return parseFsmTable(json, versionOrFile);
}

const supported = (t: FsmTable, flags: number, s: MigState) => s !== "ERROR" && t.states.includes(s) && (STATE_FLAGS[s] & flags) >>> 0 === STATE_FLAGS[s] >>> 0;

const entry = (t: FsmTable, from: MigState, to: MigState): MigState => t.next[from]?.[to] ?? "ERROR";

/** One call of vfio_mig_get_next_state() on this table. */
function nextHop(t: FsmTable, flags: number, cur: MigState, target: MigState): { next: MigState } | FsmOutcome {
  let n = entry(t, cur, target);
  for (let steps = 0; ; steps++) {
    if (n === "ERROR" && t.loopStopsAtError) break;
    if (supported(t, flags, n)) break;
    // ERROR's row is all ERROR and ERROR is never supported: an unfixed loop stays here for good.
    if (n === "ERROR" || steps > t.states.length) return { kind: "soft lockup", spinsOn: n };
    n = entry(t, n, target);
  }
  return n === "ERROR" ? { kind: "EINVAL" } : { next: n };
}

/** What a request does on this table, as the driver's loop over vfio_mig_get_next_state() sees it. */
export function fsmOutcome(t: FsmTable, flags: number, from: MigState, to: MigState): FsmOutcome | undefined {
  if (!supported(t, flags, from) || !supported(t, flags, to)) return undefined;
  const states: MigState[] = [from];
  let cur = from;
  while (cur !== to) {
    const r = nextHop(t, flags, cur, to);
    if ("kind" in r) return r;
    cur = r.next;
    states.push(cur);
    if (states.length > t.states.length + 1) return { kind: "soft lockup", spinsOn: cur };
  }
  return { kind: "path", states };
}

export function formatOutcome(o: FsmOutcome | undefined): string {
  if (!o) return "(no such request)";
  if (o.kind === "path") return o.states.join(" -> ");
  if (o.kind === "EINVAL") return "EINVAL";
  return `soft lockup (skip loop spins on ${o.spinsOn})`;
}

export interface FsmPairChange {
  from: MigState;
  to: MigState;
  /** added: the request exists only in the newer table; removed: only in the older; changed: both, different outcome */
  kind: "added" | "removed" | "changed";
  before?: FsmOutcome;
  after?: FsmOutcome;
}

export interface FsmDiff {
  from: string;
  to: string;
  flags: string;
  changes: FsmPairChange[];
  /** single arcs a driver is asked to perform in `to` but not in `from`, and the reverse */
  arcsAdded: [MigState, MigState][];
  arcsRemoved: [MigState, MigState][];
}

function parseFlagSet(flags: string): number {
  const set = findFlagSet(flags);
  if (!set) throw new FsmTableError(`"${flags}" is not a legal flag set; choose one of ${FLAG_SETS.map((f) => f.name).join(" | ")}`);
  return set.flags;
}

/** Every single arc a driver is asked to perform on this table with these flags (VFIO_MIGRATION_* bits). */
export function fsmTableArcs(t: FsmTable, flags: number): [MigState, MigState][] {
  return [...arcsOf(t, flags).values()];
}

function arcsOf(t: FsmTable, flags: number): Map<string, [MigState, MigState]> {
  const arcs = new Map<string, [MigState, MigState]>();
  for (const a of t.states) {
    for (const b of t.states) {
      const o = a === b ? undefined : fsmOutcome(t, flags, a, b);
      if (o?.kind !== "path") continue;
      for (let i = 0; i + 1 < o.states.length; i++) arcs.set(`${o.states[i]}>${o.states[i + 1]}`, [o.states[i]!, o.states[i + 1]!]);
    }
  }
  return arcs;
}

const sameOutcome = (a: FsmOutcome, b: FsmOutcome) => formatOutcome(a) === formatOutcome(b);

/**
 * Every request whose outcome differs between two tables, for one flag set
 * (e.g. "STOP_COPY,P2P,PRE_COPY"). Tables are FsmTable objects, kernel versions
 * ("5.18", "6.2", "7.2", "current") or JSON file paths.
 */
export function fsmDiff(from: FsmTable | string, to: FsmTable | string, flags = "STOP_COPY,P2P,PRE_COPY"): FsmDiff {
  const a = typeof from === "string" ? loadFsmTable(from) : from;
  const b = typeof to === "string" ? loadFsmTable(to) : to;
  const f = parseFlagSet(flags);
  const changes: FsmPairChange[] = [];
  for (const s of ALL_STATES) {
    for (const d of ALL_STATES) {
      if (s === d) continue;
      const before = fsmOutcome(a, f, s, d);
      const after = fsmOutcome(b, f, s, d);
      if (!before && !after) continue;
      if (before && after && sameOutcome(before, after)) continue;
      const kind = !before ? "added" : !after ? "removed" : "changed";
      changes.push({ from: s, to: d, kind, ...(before ? { before } : {}), ...(after ? { after } : {}) });
    }
  }
  const arcsA = arcsOf(a, f);
  const arcsB = arcsOf(b, f);
  return {
    from: a.label,
    to: b.label,
    flags: FLAG_SETS.find((x) => x.flags === f)!.name,
    changes,
    arcsAdded: [...arcsB].filter(([k]) => !arcsA.has(k)).map(([, v]) => v),
    arcsRemoved: [...arcsA].filter(([k]) => !arcsB.has(k)).map(([, v]) => v),
  };
}

/** The diff as plain lines, as `vfio-workbench fsm diff` prints it. */
export function fsmDiffText(d: FsmDiff): string {
  const lines = [`fsm diff ${d.from} -> ${d.to}, flags ${d.flags}: ${d.changes.length} request${d.changes.length === 1 ? "" : "s"} changed`];
  for (const c of d.changes) {
    lines.push(`  ${c.kind.padEnd(8)} ${c.from.padEnd(12)} -> ${c.to.padEnd(12)} ${formatOutcome(c.before)}  =>  ${formatOutcome(c.after)}`);
  }
  const arc = ([x, y]: [MigState, MigState]) => `${x} -> ${y}`;
  lines.push(`arcs added (${d.arcsAdded.length}): ${d.arcsAdded.map(arc).join(", ") || "none"}`);
  lines.push(`arcs removed (${d.arcsRemoved.length}): ${d.arcsRemoved.map(arc).join(", ") || "none"}`);
  return lines.join("\n");
}
