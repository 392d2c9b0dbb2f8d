/**
 * The VFIO core's half of migration v2: the current state, the walk from state
 * to state one driver arc at a time, and the rule that one data session spans
 * the saving group. Drivers implement single arcs (MigrationOps.step).
 */
import { Errno } from "../../uapi/index.js";
import { ArcFailure, type MigrationOps, type MigrationSession } from "./driver.js";
import { SAVING_GROUP, nextState, type MigState } from "../../uapi/migration-fsm.js";

export interface ArcRecord {
  from: MigState;
  to: MigState;
  ok: boolean;
}

export class MigrationCore {
  private current: MigState = "RUNNING";
  private session: MigrationSession | null = null;
  /** every arc attempted, in order (the `fsm` command and the notebooks read the path from here) */
  readonly arcs: ArcRecord[] = [];

  constructor(readonly ops: MigrationOps) {}

  get state(): MigState {
    return this.current;
  }

  get flags(): number {
    return this.ops.flags;
  }

  /**
   * Move toward `target`, arc by arc. Returns the session the last arc opened,
   * if any. On failure the device is left where the failing arc left it (the
   * state before the arc, or ERROR) and the Errno propagates.
   */
  setState(target: MigState): MigrationSession | null {
    let opened: MigrationSession | null = null;
    while (this.current !== target) {
      const r = nextState(this.ops.flags, this.current, target);
      if (!r.ok) throw new Errno("EINVAL", r.reason, "VFIO_DEVICE_FEATURE(MIG_DEVICE_STATE)");
      const from = this.current;
      const to = r.next;
      let session: MigrationSession | null;
      try {
        session = this.ops.step(from, to);
      } catch (e) {
        this.arcs.push({ from, to, ok: false });
        if (e instanceof ArcFailure) {
          this.enter(e.landedIn);
          throw new Errno(e.errno, `${from} -> ${to} failed: ${e.detail}; the device is now ${e.landedIn}`, "VFIO_DEVICE_FEATURE(MIG_DEVICE_STATE)");
        }
        throw e;
      }
      this.arcs.push({ from, to, ok: true });
      this.enter(to);
      if (session) {
        this.session = session;
        opened = session;
      }
    }
    return opened;
  }

  /** Record a new state; the data session survives only moves within the saving group. */
  private enter(to: MigState): void {
    const sameSession = SAVING_GROUP.has(this.current) && SAVING_GROUP.has(to);
    if (this.session && !sameSession) {
      this.session.disable();
      this.session = null;
    }
    this.current = to;
  }

  /** VFIO_DEVICE_RESET: sessions end, the state is RUNNING again (also out of ERROR). */
  reset(): void {
    this.session?.disable();
    this.session = null;
    this.ops.reset();
    this.current = "RUNNING";
  }
}
