/** The v2 migration state machine drawn from the uAPI's own arc tables, optionally with a path highlighted. */
import { MIG_STATE_NAMES, VFIO_MIGRATION, type MigStateName } from "../../hw-emu/uapi/index.js";
import { FLAG_SETS, directArcs } from "../../hw-emu/uapi/migration-fsm.js";
import { fsmDiagram } from "./fsm-diagram.js";
import { fsmFromFlagSets } from "./fsm-from-flag-sets.js";
import type { MimeBundle } from "./mime-bundle.js";

/** The state machine for a flag set (VFIO_MIGRATION_* bits), drawn from the kernel's arc tables. */
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
