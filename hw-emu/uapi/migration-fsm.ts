/**
 * The v2 migration state machine as the VFIO core defines it: which states a
 * flag set supports, which single arcs a driver is ever asked to perform, and
 * the next hop toward a requested state. Drivers walk a request one arc at a
 * time with nextState(); the `fsm` command and the diagrams read these tables too.
 */
import { MIG_STATE_NAMES, VFIO_DEVICE_STATE, VFIO_MIGRATION, type MigStateName } from "./constants.js";

export type MigState = MigStateName;

/**
 * enum vfio_device_mig_state, by name: the eight states only. The enum's last member,
 * VFIO_DEVICE_STATE_NR, counts them and is no state a device can be in or be asked for.
 */
export const STATE_VALUE: Readonly<Record<MigState, number>> = Object.fromEntries(MIG_STATE_NAMES.map((name) => [name, VFIO_DEVICE_STATE.values[name]])) as Record<MigState, number>;

/** the states in enum order, so BY_VALUE[n] names value n */
const BY_VALUE: readonly MigState[] = MIG_STATE_NAMES;

export function stateName(value: number): MigState | undefined {
  return BY_VALUE[value];
}

const { STOP_COPY: SC, P2P, PRE_COPY: PRE } = VFIO_MIGRATION.bits;

/** The migration flags a state needs; ERROR needs flags no device has, so it is never a valid target. */
export const REQUIRES: Readonly<Record<MigState, number>> = {
  STOP: SC,
  RUNNING: SC,
  STOP_COPY: SC,
  RESUMING: SC,
  RUNNING_P2P: SC | P2P,
  PRE_COPY: SC | PRE,
  PRE_COPY_P2P: SC | P2P | PRE,
  ERROR: 0xffff_ffff,
};

export function stateSupported(flags: number, s: MigState): boolean {
  return (REQUIRES[s] & flags) >>> 0 === REQUIRES[s] >>> 0;
}

export function supportedStates(flags: number): MigState[] {
  return BY_VALUE.filter((s) => stateSupported(flags, s));
}

/** States in the saving group share one data transfer session (one fd). */
export const SAVING_GROUP: ReadonlySet<MigState> = new Set<MigState>(["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"]);

/**
 * First hop from `cur` toward `target`, for a device with every optional state.
 * Shortest paths, with saving-group states never in the middle of a path.
 * STOP_COPY has no way back into pre-copy: those entries lead to ERROR, which
 * the walk turns into EINVAL. Exported so fsmDiff() can compare it with older kernels.
 */
export const NEXT: Readonly<Record<Exclude<MigState, "ERROR">, Readonly<Record<MigState, MigState>>>> = {
  STOP: {
    STOP: "STOP",
    RUNNING: "RUNNING_P2P",
    STOP_COPY: "STOP_COPY",
    RESUMING: "RESUMING",
    RUNNING_P2P: "RUNNING_P2P",
    PRE_COPY: "RUNNING_P2P",
    PRE_COPY_P2P: "RUNNING_P2P",
    ERROR: "ERROR",
  },
  RUNNING: {
    STOP: "RUNNING_P2P",
    RUNNING: "RUNNING",
    STOP_COPY: "RUNNING_P2P",
    RESUMING: "RUNNING_P2P",
    RUNNING_P2P: "RUNNING_P2P",
    PRE_COPY: "PRE_COPY",
    PRE_COPY_P2P: "RUNNING_P2P",
    ERROR: "ERROR",
  },
  STOP_COPY: {
    STOP: "STOP",
    RUNNING: "STOP",
    STOP_COPY: "STOP_COPY",
    RESUMING: "STOP",
    RUNNING_P2P: "STOP",
    PRE_COPY: "ERROR",
    PRE_COPY_P2P: "ERROR",
    ERROR: "ERROR",
  },
  RESUMING: {
    STOP: "STOP",
    RUNNING: "STOP",
    STOP_COPY: "STOP",
    RESUMING: "RESUMING",
    RUNNING_P2P: "STOP",
    PRE_COPY: "STOP",
    PRE_COPY_P2P: "STOP",
    ERROR: "ERROR",
  },
  RUNNING_P2P: {
    STOP: "STOP",
    RUNNING: "RUNNING",
    STOP_COPY: "STOP",
    RESUMING: "STOP",
    RUNNING_P2P: "RUNNING_P2P",
    PRE_COPY: "RUNNING",
    PRE_COPY_P2P: "PRE_COPY_P2P",
    ERROR: "ERROR",
  },
  PRE_COPY: {
    STOP: "RUNNING",
    RUNNING: "RUNNING",
    STOP_COPY: "PRE_COPY_P2P",
    RESUMING: "RUNNING",
    RUNNING_P2P: "RUNNING",
    PRE_COPY: "PRE_COPY",
    PRE_COPY_P2P: "PRE_COPY_P2P",
    ERROR: "ERROR",
  },
  PRE_COPY_P2P: {
    STOP: "RUNNING_P2P",
    RUNNING: "RUNNING_P2P",
    STOP_COPY: "STOP_COPY",
    RESUMING: "RUNNING_P2P",
    RUNNING_P2P: "RUNNING_P2P",
    PRE_COPY: "PRE_COPY",
    PRE_COPY_P2P: "PRE_COPY_P2P",
    ERROR: "ERROR",
  },
};

export type NextStateResult = { ok: true; next: MigState } | { ok: false; reason: string };

/**
 * The next state a driver must move to on the way from `cur` to `target`, skipping
 * optional states the flags do not provide. Refuses (the ioctl then fails EINVAL)
 * an unsupported current or target state, ERROR as either, and the blocked arcs
 * from STOP_COPY back into pre-copy. Older kernels looped forever on the blocked
 * arcs; the fixed behaviour is the refusal modelled here.
 */
export function nextState(flags: number, cur: MigState, target: MigState): NextStateResult {
  if (cur === "ERROR" || !stateSupported(flags, cur)) return { ok: false, reason: `current state ${cur} is not a state this device can leave` };
  if (target === "ERROR") return { ok: false, reason: "ERROR cannot be requested" };
  if (!stateSupported(flags, target)) return { ok: false, reason: `${target} needs migration flags this device does not have` };
  let n = NEXT[cur][target];
  const seen = new Set<MigState>();
  while (n !== "ERROR" && !stateSupported(flags, n)) {
    if (seen.has(n)) return { ok: false, reason: `no path from ${cur} to ${target}` };
    seen.add(n);
    n = NEXT[n as Exclude<MigState, "ERROR">][target];
  }
  if (n === "ERROR") return { ok: false, reason: `the arc ${cur} -> ${target} is not permitted` };
  return { ok: true, next: n };
}

/** The full sequence of states the core walks for a request, including both ends, or the refusal. */
export function pathTo(flags: number, from: MigState, to: MigState): { ok: true; path: MigState[] } | { ok: false; reason: string } {
  const path: MigState[] = [from];
  let cur = from;
  while (cur !== to) {
    const r = nextState(flags, cur, to);
    if (!r.ok) return r;
    cur = r.next;
    path.push(cur);
    if (path.length > 8) return { ok: false, reason: `path from ${from} to ${to} does not converge` };
  }
  return { ok: true, path };
}

/** Every single arc a driver with these flags can be asked to perform (the union of all paths' steps). */
export function directArcs(flags: number): [MigState, MigState][] {
  const arcs = new Map<string, [MigState, MigState]>();
  const states = supportedStates(flags);
  for (const a of states) {
    for (const b of states) {
      if (a === b) continue;
      const r = pathTo(flags, a, b);
      if (!r.ok) continue;
      for (let i = 0; i + 1 < r.path.length; i++) arcs.set(`${r.path[i]}>${r.path[i + 1]}`, [r.path[i]!, r.path[i + 1]!]);
    }
  }
  return [...arcs.values()];
}

/** The legal flag sets (STOP_COPY is mandatory), named as the `fsm` command prints them. */
export const FLAG_SETS: readonly { name: string; flags: number }[] = [
  { name: "STOP_COPY", flags: SC },
  { name: "STOP_COPY,P2P", flags: SC | P2P },
  { name: "STOP_COPY,PRE_COPY", flags: SC | PRE },
  { name: "STOP_COPY,P2P,PRE_COPY", flags: SC | P2P | PRE },
];

/** The legal flag set named by a comma list in any order ("P2P,STOP_COPY"), or undefined. */
export function findFlagSet(text: string): { name: string; flags: number } | undefined {
  const wanted = new Set(text.toUpperCase().split(",").map((s) => s.trim()).filter(Boolean));
  return FLAG_SETS.find((f) => {
    const names = new Set(f.name.split(","));
    return names.size === wanted.size && [...wanted].every((n) => names.has(n));
  });
}
