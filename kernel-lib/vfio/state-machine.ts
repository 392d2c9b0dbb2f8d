/**
 * The migration state machine as the VFIO core defines it, for notebooks: the
 * kernel's own path finder and arc tables (the emulator runs the same code),
 * and a diagram drawn from them.
 */
import { MIG_STATE_NAMES, VFIO_MIGRATION, type MigStateName } from "../../hw-emu/uapi/index.js";
import { FLAG_SETS, directArcs, pathTo, supportedStates } from "../../hw-emu/uapi/migration-fsm.js";
import { fsmDiagram } from "../display/fsm-diagram.js";
import { fsmFromFlagSets } from "../display/fsm-from-flag-sets.js";
import type { MimeBundle } from "../display/mime-bundle.js";

export { FLAG_SETS, directArcs, pathTo, supportedStates };

/** The path the VFIO core walks from one state to another for a device with `flags` (VFIO_MIGRATION_* bits). */
export function migrationPath(flags: number, from: MigStateName, to: MigStateName): MigStateName[] {
  const r = pathTo(flags, from, to);
  if (!r.ok) throw new Error(`${from} -> ${to} is refused (EINVAL): ${r.reason}`);
  return r.path;
}

/** The state machine for a flag set, drawn from the kernel's arc tables, optionally with a path highlighted. */
export function stateMachineDiagram(flags: number, options: { path?: readonly MigStateName[]; title?: string } = {}): MimeBundle {
  const sets = FLAG_SETS.map((s) => ({
    flags: { p2p: (s.flags & VFIO_MIGRATION.bits.P2P) !== 0, preCopy: (s.flags & VFIO_MIGRATION.bits.PRE_COPY) !== 0 },
    arcs: directArcs(s.flags),
  }));
  return fsmDiagram(fsmFromFlagSets(MIG_STATE_NAMES, sets), {
    flags: { p2p: (flags & VFIO_MIGRATION.bits.P2P) !== 0, preCopy: (flags & VFIO_MIGRATION.bits.PRE_COPY) !== 0 },
    ...(options.path ? { path: options.path } : {}),
    ...(options.title ? { title: options.title } : {}),
  });
}
