/**
 * The migration state machine as the VFIO core defines it, for notebooks: the
 * uAPI's path finder and arc tables (the emulated kernel walks the same tables).
 * display/state-machine-diagram.ts draws them.
 */
import type { MigStateName } from "../../hw-emu/uapi/index.js";
import { FLAG_SETS, directArcs, pathTo, supportedStates } from "../../hw-emu/uapi/migration-fsm.js";

export { FLAG_SETS, directArcs, pathTo, supportedStates };

/** The path the VFIO core walks from one state to another for a device with `flags` (VFIO_MIGRATION_* bits). */
export function migrationPath(flags: number, from: MigStateName, to: MigStateName): MigStateName[] {
  const r = pathTo(flags, from, to);
  if (!r.ok) throw new Error(`${from} -> ${to} is refused (EINVAL): ${r.reason}`);
  return r.path;
}
