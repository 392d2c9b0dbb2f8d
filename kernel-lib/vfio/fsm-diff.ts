/**
 * Two migration path tables set side by side: for every (from, to) pair, what each kernel does
 * with the request (the path, EINVAL, a spin, or no such state), and the pairs where they differ.
 * A table is a kernel version (hw-emu/uapi/migration-fsm-history.ts) or one a user writes in JSON.
 */
import { KERNEL_FSM_TABLES, MIG_STATE_NAMES, VFIO_MIGRATION, walkTable, type FsmTable, type MigStateName, type WalkOutcome } from "../../hw-emu/uapi/index.js";

export type FsmChange = "added" | "removed" | "path changed" | "refusal changed";

export interface FsmPairDiff {
  from: MigStateName;
  to: MigStateName;
  before: WalkOutcome;
  after: WalkOutcome;
  change: FsmChange;
}

export class FsmTableError extends Error {
  override name = "FsmTableError";
}

const STATES = MIG_STATE_NAMES.filter((s) => s !== "ERROR");
const FLAG_NAMES = ["STOP_COPY", "P2P", "PRE_COPY"] as const;

/** "STOP_COPY,P2P" → the VFIO_MIGRATION_* bits; STOP_COPY is mandatory. */
export function parseMigrationFlags(text: string): number {
  let flags = 0;
  for (const raw of text.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean)) {
    const name = raw.replace(/^VFIO_MIGRATION_/, "") as (typeof FLAG_NAMES)[number];
    if (!FLAG_NAMES.includes(name)) throw new FsmTableError(`unknown migration flag "${raw}"; flags: ${FLAG_NAMES.join(", ")}`);
    flags |= VFIO_MIGRATION.bits[name];
  }
  if ((flags & VFIO_MIGRATION.bits.STOP_COPY) === 0) throw new FsmTableError("the flags must include STOP_COPY, which every migratable device offers");
  return flags;
}

/**
 * A table from JSON: {"name", "states": [...], "next": {FROM: {TO: STATE}}, "onError": "EINVAL" | "spins"}.
 * `next` must give a hop for every pair of the listed states. Problems are named, with `source`.
 */
export function parseFsmTable(text: string, source: string): FsmTable {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FsmTableError(`${source}: not JSON (${(err as Error).message})`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new FsmTableError(`${source}: a table is a JSON object with "states" and "next"`);
  const t = raw as Record<string, unknown>;
  const states = t.states;
  if (!Array.isArray(states) || states.length === 0) throw new FsmTableError(`${source}: "states" must be a non-empty list of state names`);
  for (const s of states) if (!STATES.includes(s as MigStateName)) throw new FsmTableError(`${source}: "states" names ${JSON.stringify(s)}, not one of ${STATES.join(", ")}`);
  const next = t.next;
  if (!next || typeof next !== "object" || Array.isArray(next)) throw new FsmTableError(`${source}: "next" must be an object {FROM: {TO: STATE}}`);
  for (const from of states as string[]) {
    const row = (next as Record<string, unknown>)[from];
    if (!row || typeof row !== "object") throw new FsmTableError(`${source}: "next" has no row for ${from}`);
    for (const to of states as string[]) {
      const hop = (row as Record<string, unknown>)[to];
      if (hop === undefined) throw new FsmTableError(`${source}: "next".${from} has no entry for ${to}`);
      if (hop !== "ERROR" && !(states as string[]).includes(hop as string)) throw new FsmTableError(`${source}: "next".${from}.${to} is ${JSON.stringify(hop)}, not a listed state or ERROR`);
    }
  }
  const onError = t.onError ?? "EINVAL";
  if (onError !== "EINVAL" && onError !== "spins") throw new FsmTableError(`${source}: "onError" must be "EINVAL" or "spins"`);
  let flags = VFIO_MIGRATION.bits.STOP_COPY;
  if ((states as string[]).some((s) => s.endsWith("P2P"))) flags |= VFIO_MIGRATION.bits.P2P;
  if ((states as string[]).some((s) => s.startsWith("PRE_COPY"))) flags |= VFIO_MIGRATION.bits.PRE_COPY;
  const name = typeof t.name === "string" && t.name.trim() ? t.name : source;
  return { name, description: `from ${source}`, states: states as MigStateName[], flags, next: next as FsmTable["next"], onError };
}

/** A kernel version's table by name (5.18, 6.2, fixed). */
export function kernelFsmTable(name: string): FsmTable {
  const table = KERNEL_FSM_TABLES[name];
  if (!table) throw new FsmTableError(`no table for kernel "${name}"; kernels: ${Object.keys(KERNEL_FSM_TABLES).join(", ")} (or a JSON file)`);
  return table;
}

/** How an outcome reads in a table cell: "A -> B -> C", "EINVAL", "spins", "(no such state)". */
export function describeOutcome(o: WalkOutcome): string {
  if (o.kind === "path") return o.path.join(" -> ");
  if (o.kind === "EINVAL") return "EINVAL";
  if (o.kind === "spins") return "spins (soft lockup)";
  return "(no such state)";
}

function sameOutcome(a: WalkOutcome, b: WalkOutcome): boolean {
  return describeOutcome(a) === describeOutcome(b);
}

/** Every (from, to) pair whose outcome differs between `before` and `after`, for a device with `flags`. */
export function diffFsmTables(before: FsmTable, after: FsmTable, flags: number): FsmPairDiff[] {
  const diffs: FsmPairDiff[] = [];
  for (const from of STATES) {
    for (const to of STATES) {
      if (from === to) continue;
      const a = walkTable(before, flags, from, to);
      const b = walkTable(after, flags, from, to);
      if (sameOutcome(a, b)) continue;
      const change: FsmChange = a.kind === "absent" ? "added" : b.kind === "absent" ? "removed" : a.kind === "path" && b.kind === "path" ? "path changed" : "refusal changed";
      diffs.push({ from, to, before: a, after: b, change });
    }
  }
  return diffs;
}
