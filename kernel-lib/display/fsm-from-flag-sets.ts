/**
 * Build the FSM description fsmDiagram takes from per-flag-set arc lists, the
 * form in which a kernel's path finder naturally answers ("these are the
 * direct arcs a device with these flags is asked to perform"). For each arc it
 * finds the flags it requires and the flags whose presence removes it, and
 * checks that those two lists explain exactly the flag sets the arc appears in.
 */
import type { FsmArc, FsmDescription, FsmFlag } from "./types.js";

export interface FlagSetArcs {
  flags: { p2p: boolean; preCopy: boolean };
  /** direct arcs for a device with these flags, as [from, to] */
  arcs: readonly (readonly [string, string])[];
}

const FLAGS: readonly FsmFlag[] = ["P2P", "PRE_COPY"];

function has(flags: FlagSetArcs["flags"], f: FsmFlag): boolean {
  return f === "P2P" ? flags.p2p : flags.preCopy;
}

/** Every (requires, unless) pair of disjoint flag lists, fewest conditions first. */
function conditions(): { requires: FsmFlag[]; unless: FsmFlag[] }[] {
  const out: { requires: FsmFlag[]; unless: FsmFlag[] }[] = [];
  // each flag is required, forbidden or free: 3^2 combinations
  for (let code = 0; code < 9; code++) {
    const requires: FsmFlag[] = [];
    const unless: FsmFlag[] = [];
    let c = code;
    for (const f of FLAGS) {
      if (c % 3 === 1) requires.push(f);
      if (c % 3 === 2) unless.push(f);
      c = Math.floor(c / 3);
    }
    out.push({ requires, unless });
  }
  return out.sort((a, b) => a.requires.length + a.unless.length - (b.requires.length + b.unless.length));
}

/**
 * @param states every state in enum order (e.g. the kernel's state list)
 * @param sets the direct arcs for each of the four flag sets (all four are needed to tell the conditions apart)
 */
export function fsmFromFlagSets(states: readonly string[], sets: readonly FlagSetArcs[]): FsmDescription {
  const combos = new Set(sets.map((s) => `${s.flags.p2p}/${s.flags.preCopy}`));
  if (combos.size !== 4 || sets.length !== 4) throw new Error("give the direct arcs of each of the four flag sets exactly once");
  const order: string[] = [];
  const presentIn = new Map<string, Set<FlagSetArcs>>();
  for (const set of sets) {
    for (const [from, to] of set.arcs) {
      const key = `${from}\u0000${to}`;
      if (!presentIn.has(key)) {
        presentIn.set(key, new Set());
        order.push(key);
      }
      presentIn.get(key)!.add(set);
    }
  }
  const candidates = conditions();
  const arcs: FsmArc[] = order.map((key) => {
    const [from, to] = key.split("\u0000") as [string, string];
    const present = presentIn.get(key)!;
    const fit = candidates.find((c) =>
      sets.every((s) => present.has(s) === (c.requires.every((f) => has(s.flags, f)) && !c.unless.some((f) => has(s.flags, f)))),
    );
    if (!fit) throw new Error(`arc ${from} -> ${to} appears in flag sets that no required/forbidden flags explain`);
    return fit.unless.length ? { from, to, requires: fit.requires, unless: fit.unless } : { from, to, requires: fit.requires };
  });
  return { states: [...states], arcs };
}
