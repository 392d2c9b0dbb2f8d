/**
 * Migration paths as the emulated kernel walks them: for a flag set, drive a
 * device that advertises exactly those flags from each state to each other
 * state through VFIO_DEVICE_FEATURE, and read the arcs its driver performed
 * (lab observation). Nothing here consults a table of expected paths.
 */
import { VFIO_MIGRATION, type MigStateName } from "../../hw-emu/uapi/index.js";
import { FLAG_SETS, supportedStates } from "../../hw-emu/uapi/migration-fsm.js";
import { createEmuBackend, lab, type DeviceSpec, type EmulatedMachine } from "../backends/emu.js";
import { Container, Group } from "../vfio/container.js";
import type { Device } from "../vfio/device.js";
import { VfioError } from "../vfio/errors.js";
import { ResumeStream, SaveStream } from "../vfio/migration.js";

export type FsmPathResult = MigStateName[] | "EINVAL";

/** A device model configured to advertise exactly `flags`. */
function deviceFor(flags: number): DeviceSpec {
  const p2p = (flags & VFIO_MIGRATION.bits.P2P) !== 0;
  const preCopy = (flags & VFIO_MIGRATION.bits.PRE_COPY) !== 0;
  // the NIC offers P2P (PRE_COPY optional); the accelerator has no P2P (PRE_COPY optional)
  return p2p ? { model: "nic", stateSize: 8192, queues: 1, preCopy } : { model: "accel", preCopy };
}

export class FsmProbe {
  readonly flags: number;
  private readonly machine: EmulatedMachine;
  private readonly dev: Device;
  private readonly saved: Uint8Array;

  constructor(flagSetName: string) {
    const set = FLAG_SETS.find((f) => f.name === flagSetName);
    if (!set) throw new Error(`unknown flag set "${flagSetName}"; choose one of ${FLAG_SETS.map((f) => f.name).join(", ")}`);
    this.flags = set.flags;
    this.machine = createEmuBackend({ devices: [deviceFor(set.flags)] });
    const c = Container.open(this.machine.sys);
    const g = Group.open(this.machine.sys, this.machine.devices[0]!.group);
    g.setContainer(c);
    c.setIommu();
    this.dev = g.device(this.machine.devices[0]!.address);
    const advertised = this.mig.flags;
    if (advertised !== set.flags) throw new Error(`the probe device advertises 0x${advertised.toString(16)}, not ${flagSetName}`);
    // a valid stream of this device, so paths can start in RESUMING
    const r = this.mig.set("STOP_COPY");
    this.saved = concat((r.data as SaveStream).readAvailable());
    (r.data as SaveStream).close();
    this.dev.reset();
  }

  private get mig() {
    const m = this.dev.migration;
    if (!m) throw new Error("the probe device has no migration support");
    return m;
  }

  private get arcs(): readonly lab.ArcRecord[] {
    return lab.migrationArcs(this.machine.devices[0]!);
  }

  /** Bring the device to `state` from reset. */
  private reach(state: MigStateName): void {
    this.dev.reset();
    if (state === "RUNNING") return;
    if (state === "RESUMING") {
      const r = this.mig.set("RESUMING");
      (r.data as ResumeStream).write(this.saved);
      (r.data as ResumeStream).close();
      return;
    }
    const r = this.mig.set(state);
    if (r.data) r.data.close();
  }

  /** The arcs the kernel performs for a SET from `from` to `to`, or "EINVAL" when it refuses. */
  path(from: MigStateName, to: MigStateName): FsmPathResult {
    this.reach(from);
    const before = this.arcs.length;
    try {
      const r = this.mig.set(to);
      r.data?.close();
    } catch (e) {
      if (e instanceof VfioError && e.code === "EINVAL") return "EINVAL";
      throw e;
    }
    const walked = this.arcs.slice(before);
    return [from, ...walked.map((a) => a.to)];
  }

  /** The states this flag set supports, ERROR aside. */
  allStates(): MigStateName[] {
    return supportedStates(this.flags).filter((s) => s !== "ERROR");
  }

  /** Every supported (from, to) pair's path; ERROR is never a from or a to. */
  allPaths(): Record<string, Record<string, FsmPathResult>> {
    const states = this.allStates();
    const out: Record<string, Record<string, FsmPathResult>> = {};
    for (const from of states) {
      out[from] = {};
      for (const to of states) out[from][to] = this.path(from, to);
    }
    return out;
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Paths for every legal flag set, keyed as the `fsm paths --json` command prints them. */
export function walkAllFsmPaths(): Record<string, Record<string, Record<string, FsmPathResult>>> {
  const out: Record<string, Record<string, Record<string, FsmPathResult>>> = {};
  for (const set of FLAG_SETS) out[set.name] = new FsmProbe(set.name).allPaths();
  return out;
}
