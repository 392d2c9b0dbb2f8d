/**
 * Where peer-to-peer writes landed during a migration: for each device, how many
 * peer writes reached it in each migration state, and how many it accepted or
 * refused. The VMM cannot see this (a peer write is posted: its sender learns
 * nothing); the counts come from the device models' own counters, a lab view.
 *
 * A device's state changes only inside the orchestrator's arcs, so the counts
 * since the last arc belong to the state the device was in: `settle()` before an
 * arc files them there, `enter()` after it starts counting for the new state.
 */
import type { MigStateName } from "../../hw-emu/uapi/index.js";
import type { HostDevice } from "./host.js";
import type { P2pArrivals } from "./types.js";

interface Watch {
  side: P2pArrivals["host"];
  state: MigStateName;
  accepted: number;
  refused: number;
}

export class P2pArrivalLog {
  private readonly watches = new Map<HostDevice, Watch>();
  private readonly rows: P2pArrivals[] = [];

  /** Start counting for `device`, which is in `state` now. */
  watch(device: HostDevice, side: P2pArrivals["host"], state: MigStateName): void {
    const c = device.model.counters;
    this.watches.set(device, { side, state, accepted: c.peerWritesAccepted, refused: c.peerWritesRefused });
  }

  /** File what reached `device` since the last call under the state it was in. */
  settle(device: HostDevice): void {
    const w = this.watches.get(device);
    if (!w) return;
    const c = device.model.counters;
    const accepted = c.peerWritesAccepted - w.accepted;
    const refused = c.peerWritesRefused - w.refused;
    w.accepted = c.peerWritesAccepted;
    w.refused = c.peerWritesRefused;
    if (accepted === 0 && refused === 0) return;
    let row = this.rows.find((r) => r.device === device.name && r.host === w.side && r.state === w.state);
    if (!row) {
      row = { device: device.name, host: w.side, state: w.state, accepted: 0, refused: 0 };
      this.rows.push(row);
    }
    row.accepted += accepted;
    row.refused += refused;
  }

  /** `device` is in `state` from now on (after an arc, a reset, or a failed arc that left it there). */
  enter(device: HostDevice, state: MigStateName): void {
    this.settle(device);
    const w = this.watches.get(device);
    if (w) w.state = state;
  }

  /** Everything so far, in the order the device/state pairs first saw a peer write. */
  report(): P2pArrivals[] {
    for (const d of this.watches.keys()) this.settle(d);
    return this.rows.map((r) => ({ ...r }));
  }
}
