/**
 * The v2 migration state machine of past kernels, written down from their sources, so a reviewer
 * can see what changed: vfio_from_fsm_table[][] and the skip loop of vfio_mig_get_next_state().
 * - 5.18: drivers/vfio/vfio.c, after "vfio: Define device migration protocol v2" (115dcec65f61)
 *   and "vfio: Extend the device migration protocol with RUNNING_P2P", both in v5.18; five states.
 * - 6.2: drivers/vfio/vfio_main.c, after "vfio: Extend the device migration protocol with
 *   PRE_COPY" (4db52602a607): PRE_COPY and PRE_COPY_P2P added, STOP_COPY -> PRE_COPY(_P2P)
 *   encoded as ERROR, and the skip loop never stops on ERROR, so asking for a blocked arc on a
 *   device with PRE_COPY spins with the state mutex held.
 * - fixed: the same table with "vfio: prevent infinite loop in vfio_mig_get_next_state() on
 *   blocked arc" applied (stable trees carry it; Debian's 6.12.118 has it): the loop stops at
 *   ERROR and the request fails with EINVAL.
 */
import { VFIO_MIGRATION, type MigStateName } from "./constants.js";

type State = MigStateName;

export interface FsmTable {
  /** how the `fsm diff` command names it */
  name: string;
  description: string;
  /** the states this kernel defines, ERROR excluded */
  states: readonly State[];
  /** the VFIO_MIGRATION_* flags it defines */
  flags: number;
  /** vfio_from_fsm_table[from][to], for the defined states */
  next: Readonly<Record<string, Readonly<Record<string, State>>>>;
  /** what the skip loop does when the table says ERROR: the fixed kernels stop there; 6.2 to the fix spin */
  onError: "EINVAL" | "spins";
}

const { STOP_COPY: SC, P2P, PRE_COPY: PRE } = VFIO_MIGRATION.bits;

/** state_flags_table[]: the flags a state needs (the same in every version that has the state). */
const NEEDS: Readonly<Record<State, number>> = {
  STOP: SC,
  RUNNING: SC,
  STOP_COPY: SC,
  RESUMING: SC,
  RUNNING_P2P: SC | P2P,
  PRE_COPY: SC | PRE,
  PRE_COPY_P2P: SC | P2P | PRE,
  ERROR: 0xffff_ffff,
};

const TABLE_5_18: FsmTable["next"] = {
  STOP: { STOP: "STOP", RUNNING: "RUNNING_P2P", STOP_COPY: "STOP_COPY", RESUMING: "RESUMING", RUNNING_P2P: "RUNNING_P2P" },
  RUNNING: { STOP: "RUNNING_P2P", RUNNING: "RUNNING", STOP_COPY: "RUNNING_P2P", RESUMING: "RUNNING_P2P", RUNNING_P2P: "RUNNING_P2P" },
  STOP_COPY: { STOP: "STOP", RUNNING: "STOP", STOP_COPY: "STOP_COPY", RESUMING: "STOP", RUNNING_P2P: "STOP" },
  RESUMING: { STOP: "STOP", RUNNING: "STOP", STOP_COPY: "STOP", RESUMING: "RESUMING", RUNNING_P2P: "STOP" },
  RUNNING_P2P: { STOP: "STOP", RUNNING: "RUNNING", STOP_COPY: "STOP", RESUMING: "STOP", RUNNING_P2P: "RUNNING_P2P" },
};

const TABLE_6_2: FsmTable["next"] = {
  STOP: { STOP: "STOP", RUNNING: "RUNNING_P2P", PRE_COPY: "RUNNING_P2P", PRE_COPY_P2P: "RUNNING_P2P", STOP_COPY: "STOP_COPY", RESUMING: "RESUMING", RUNNING_P2P: "RUNNING_P2P" },
  RUNNING: { STOP: "RUNNING_P2P", RUNNING: "RUNNING", PRE_COPY: "PRE_COPY", PRE_COPY_P2P: "RUNNING_P2P", STOP_COPY: "RUNNING_P2P", RESUMING: "RUNNING_P2P", RUNNING_P2P: "RUNNING_P2P" },
  PRE_COPY: { STOP: "RUNNING", RUNNING: "RUNNING", PRE_COPY: "PRE_COPY", PRE_COPY_P2P: "PRE_COPY_P2P", STOP_COPY: "PRE_COPY_P2P", RESUMING: "RUNNING", RUNNING_P2P: "RUNNING" },
  PRE_COPY_P2P: { STOP: "RUNNING_P2P", RUNNING: "RUNNING_P2P", PRE_COPY: "PRE_COPY", PRE_COPY_P2P: "PRE_COPY_P2P", STOP_COPY: "STOP_COPY", RESUMING: "RUNNING_P2P", RUNNING_P2P: "RUNNING_P2P" },
  STOP_COPY: { STOP: "STOP", RUNNING: "STOP", PRE_COPY: "ERROR", PRE_COPY_P2P: "ERROR", STOP_COPY: "STOP_COPY", RESUMING: "STOP", RUNNING_P2P: "STOP" },
  RESUMING: { STOP: "STOP", RUNNING: "STOP", PRE_COPY: "STOP", PRE_COPY_P2P: "STOP", STOP_COPY: "STOP", RESUMING: "RESUMING", RUNNING_P2P: "STOP" },
  RUNNING_P2P: { STOP: "STOP", RUNNING: "RUNNING", PRE_COPY: "RUNNING", PRE_COPY_P2P: "PRE_COPY_P2P", STOP_COPY: "STOP", RESUMING: "STOP", RUNNING_P2P: "RUNNING_P2P" },
};

const FIVE: readonly State[] = ["STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P"];
const SEVEN: readonly State[] = [...FIVE, "PRE_COPY", "PRE_COPY_P2P"];

export const KERNEL_FSM_TABLES: Readonly<Record<string, FsmTable>> = {
  "5.18": { name: "5.18", description: "v2 with RUNNING_P2P, before PRE_COPY (drivers/vfio/vfio.c)", states: FIVE, flags: SC | P2P, next: TABLE_5_18, onError: "EINVAL" },
  "6.2": { name: "6.2", description: "PRE_COPY added; a blocked arc spins in vfio_mig_get_next_state() (drivers/vfio/vfio_main.c)", states: SEVEN, flags: SC | P2P | PRE, next: TABLE_6_2, onError: "spins" },
  fixed: { name: "fixed", description: 'the 6.2 table with "vfio: prevent infinite loop in vfio_mig_get_next_state() on blocked arc": a blocked arc is EINVAL', states: SEVEN, flags: SC | P2P | PRE, next: TABLE_6_2, onError: "EINVAL" },
};

/** What a kernel does with one request: the states it walks, or how it refuses. */
export type WalkOutcome =
  | { kind: "path"; path: State[] }
  | { kind: "EINVAL"; reason: string }
  | { kind: "spins"; reason: string }
  | { kind: "absent"; reason: string };

function supported(flags: number, s: State): boolean {
  return (NEEDS[s] & flags) >>> 0 === NEEDS[s] >>> 0;
}

/**
 * A request from `from` to `to` on a device with `flags`, as vfio_mig_get_next_state() handles it
 * in `table`'s kernel, one hop after another until the target is reached or the kernel refuses.
 */
export function walkTable(table: FsmTable, deviceFlags: number, from: State, to: State): WalkOutcome {
  let flags = deviceFlags;
  for (const s of [from, to]) if (!table.states.includes(s)) return { kind: "absent", reason: `${table.name} has no state ${s}` };
  // a kernel knows only the flags it defines: a device on 5.18 cannot report PRE_COPY
  flags &= table.flags;
  if (!supported(flags, from)) return { kind: "EINVAL", reason: `the device cannot be in ${from}` };
  if (!supported(flags, to)) return { kind: "EINVAL", reason: `${to} needs flags the device lacks` };
  const path: State[] = [from];
  let cur = from;
  while (cur !== to) {
    let next = table.next[cur]![to]!;
    // the skip loop: step past states the device lacks; ERROR needs every flag, so it is never "supported"
    while (!supported(flags, next)) {
      if (next === "ERROR") {
        return table.onError === "spins"
          ? { kind: "spins", reason: `the arc ${cur} -> ${to} is blocked and the skip loop never leaves ERROR` }
          : { kind: "EINVAL", reason: `the arc ${cur} -> ${to} is blocked` };
      }
      next = table.next[next]![to]!;
    }
    path.push(next);
    cur = next;
    if (path.length > table.states.length + 1) return { kind: "EINVAL", reason: `no path from ${from} to ${to}` };
  }
  return { kind: "path", path };
}
