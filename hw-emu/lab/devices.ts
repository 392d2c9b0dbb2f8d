/**
 * The device half of the lab API: ways for a notebook to watch or drive the
 * emulated devices that real hardware does not offer (pending interrupt
 * bits, internal state, refused peer writes, injected traffic). Notebooks
 * that use these say so; nothing here is reachable through the uAPI.
 */
import type { Clock, ScheduledEvent } from "../sim/clock.js";
import { Random } from "../sim/random.js";
import type { DmaEngine, LostAccess } from "../hw/dma.js";
import { AccelVf } from "../hw/devices/accel-vf.js";
import type { DeviceModel } from "../hw/devices/device-base.js";
import { PageDirtyLog } from "../hw/devices/dma-log.js";
import { FaultyDevice } from "../hw/devices/faulty.js";
import type { MigratableDevice } from "../hw/devices/migration.js";
import { NicVf } from "../hw/devices/nic-vf.js";
import { SerialMdev } from "../hw/devices/serial-mdev.js";
import type { MsixVectorState } from "../hw/msix.js";
import { formatBdf } from "../hw/pci/address.js";
import type { InterruptEvent, InterruptLog } from "../hw/pci/interrupt-log.js";
import type { DeviceModelName } from "./models.js";
import type { ArcRecord } from "../kernel/vfio/migration.js";
import type { VfioDevice } from "../kernel/vfio/device.js";

export type { ArcRecord, InterruptEvent, InterruptLog, MsixVectorState };

/** The model behind a device, looking through the faulty wrapper. */
export function modelOf(device: MigratableDevice): DeviceModel {
  if (device instanceof FaultyDevice) return device.inner;
  if (device instanceof NicVf || device instanceof AccelVf || device instanceof SerialMdev) return device;
  throw new Error(`lab: unknown device model ${device.kind}`);
}

export interface PendingInterrupts {
  device: string;
  kind: "msix" | "msi" | "mdev";
  /** vectors whose pending bit is set */
  vectors: number[];
  /** the raw MSI-X Pending Bit Array, when the device has one */
  pba?: Uint8Array;
  /** interrupts are held because the device is stopped */
  held: boolean;
}

/** Which of the models a device is (looking through the faulty wrapper). */
export function modelName(device: MigratableDevice): DeviceModelName {
  const m = modelOf(device);
  return m instanceof NicVf ? "nic" : m instanceof AccelVf ? "accel" : "serial";
}

/** Pending interrupt state (MSI-X PBA, MSI pending register, or a held mdev interrupt). */
export function pendingInterrupts(device: MigratableDevice): PendingInterrupts {
  const m = modelOf(device);
  if (m instanceof NicVf) {
    return { device: m.name, kind: "msix", vectors: m.msix.pendingVectors(), pba: m.msix.pbaBytes(), held: m.msix.isHeld };
  }
  if (m instanceof AccelVf) return { device: m.name, kind: "msi", vectors: m.msi.pendingVectors(), held: m.msi.isHeld };
  const s = m as SerialMdev;
  return { device: s.name, kind: "mdev", vectors: s.interruptPending ? [0] : [], held: s.runState === "stopped" };
}

/** The device's log of interrupts (MSI-X or MSI) with their outcomes, or null for a model without one. */
export function interruptLog(device: MigratableDevice): InterruptLog | null {
  const m = modelOf(device);
  if (m instanceof NicVf) return m.msix.log;
  if (m instanceof AccelVf) return m.msi.log;
  return null;
}

/**
 * The device's own record of its MSI-X or MSI activity: every firing and what became of it at
 * the function (delivered, left pending, dropped because MSI-X was off), and every later release
 * of a pending vector. Events from `sinceSeq` on (default all kept).
 */
export function interruptEvents(device: MigratableDevice, sinceSeq = 0): InterruptEvent[] {
  const log = interruptLog(device);
  if (log) return log.entries.filter((e) => e.seq >= sinceSeq);
  const m = modelOf(device);
  throw new Error(`lab: ${m.name} (${m.kind}) keeps no interrupt log; the NIC (MSI-X) and the accelerator (MSI) do`);
}

/** The device's MSI-X vector table as the hardware holds it (the host kernel's messages, not the guest's). */
export function msixTable(device: MigratableDevice): MsixVectorState[] {
  const m = modelOf(device);
  if (!(m instanceof NicVf)) throw new Error(`lab: ${m.name} (${m.kind}) has no MSI-X table; the NIC has one`);
  return Array.from({ length: m.msix.vectors }, (_, v) => m.msix.vectorState(v));
}

/** Internal state for display: the model's own summary plus run state, health, counters and its DMA log. */
export function deviceState(device: MigratableDevice): Record<string, unknown> {
  const m = modelOf(device);
  const log = m.dmaLog;
  return {
    ...m.describe(),
    address: m.fn.attached ? formatBdf(m.fn.routingId) : null,
    runState: m.runState,
    health: m.health,
    failure: m.failureReason,
    features: { ...m.features },
    counters: { ...m.counters },
    faults: { ...m.faults },
    session: m.session ? ("mode" in m.session ? `save (${m.session.mode})` : "resume") : null,
    dmaLog: log
      ? { active: log.active, pageSize: log.pageSize, ranges: log.ranges.length, dirtyPages: log instanceof PageDirtyLog ? log.dirtyPageCount : null }
      : null,
  };
}

/** The device's internal state snapshot bytes (as save() gives them). */
export function deviceSnapshot(device: MigratableDevice): Uint8Array {
  return modelOf(device).save();
}

export interface LostP2pSummary {
  device: string;
  /** peer writes this device refused (counted by the device) */
  refusedByDevice: number;
  /** the DMA engine's records of writes lost at this device's BARs */
  lost: LostAccess[];
}

/** Peer-to-peer writes lost at each device (refused because it was stopped, or not a P2P target). */
export function lostP2pWrites(engine: DmaEngine, devices: readonly MigratableDevice[]): LostP2pSummary[] {
  return devices.map((d) => {
    const m = modelOf(d);
    const names = m.fn.attached ? m.fn.barIndices().map((b) => `${formatBdf(m.fn.routingId)} BAR${b}`) : [];
    return {
      device: m.name,
      refusedByDevice: m.counters.peerWritesRefused,
      lost: engine.lost.filter((l) => l.kind === "write" && l.target !== null && names.includes(l.target)),
    };
  });
}

export interface TrafficOptions {
  /** NIC: packets to deliver from the wire (default 1) */
  packets?: number;
  /** NIC: bytes per packet (default 256) */
  size?: number;
  /** NIC: queue (default 0); serial: port (default 0) */
  queue?: number;
  /** NIC: pages of internal state to change (background activity), default 0 */
  churnPages?: number;
  /** serial: bytes to send down the line */
  bytes?: Uint8Array | readonly number[];
  /** payload seed (default 1) */
  seed?: number;
}

/**
 * Makes a device do something now: packets arrive at a NIC, bytes arrive at
 * a serial port, a NIC's internal state churns. (The accelerator only works
 * on jobs its guest driver submits: use AccelGuestDriver.submit.)
 */
export function triggerTraffic(device: MigratableDevice, opts: TrafficOptions = {}): void {
  const m = modelOf(device);
  const rng = new Random(opts.seed ?? 1);
  if (m instanceof NicVf) {
    const q = opts.queue ?? 0;
    for (let i = 0; i < (opts.packets ?? 1); i++) m.receive(q, rng.bytes(new Uint8Array(opts.size ?? 256)));
    if (opts.churnPages) m.churn(opts.churnPages);
    return;
  }
  if (m instanceof SerialMdev) {
    m.receive(opts.queue ?? 0, opts.bytes ?? rng.bytes(new Uint8Array(opts.size ?? 8)));
    return;
  }
  throw new Error(`lab: ${m.kind} takes work only from its guest driver`);
}

/**
 * One packet arrives from the wire at a NIC's queue (default 0); then `churnPages` pages of
 * its internal state change. Returns false, doing nothing, when the device is not a NIC.
 */
export function deliverPacket(device: MigratableDevice, packet: Uint8Array, opts: { queue?: number; churnPages?: number } = {}): boolean {
  const m = modelOf(device);
  if (!(m instanceof NicVf)) return false;
  m.receive(opts.queue ?? 0, packet);
  if (opts.churnPages) m.churn(opts.churnPages);
  return true;
}

/** Every migration arc the emulated kernel attempted on a machine's device, in order (empty without migration support). */
export function migrationArcs(device: { readonly vfio: VfioDevice }): readonly ArcRecord[] {
  return device.vfio.migration?.arcs ?? [];
}

export interface ScheduledTraffic {
  /** packets or bytes delivered so far */
  readonly delivered: number;
  stop(): void;
}

/**
 * Steady traffic on the simulated clock: every `intervalNs`, one packet (NIC)
 * or one byte (serial) arrives, `count` times (default: until stopped).
 * Payloads come from `seed`, so runs repeat exactly.
 */
export function scheduleTraffic(clock: Clock, device: MigratableDevice, opts: TrafficOptions & { intervalNs: number; count?: number }): ScheduledTraffic {
  if (!Number.isSafeInteger(opts.intervalNs) || opts.intervalNs <= 0) throw new RangeError("intervalNs must be a positive integer");
  const rng = new Random(opts.seed ?? 1);
  let delivered = 0;
  let ev: ScheduledEvent | null = null;
  const m = modelOf(device);
  const tick = () => {
    if (m instanceof NicVf) {
      m.receive(opts.queue ?? 0, rng.bytes(new Uint8Array(opts.size ?? 256)));
      if (opts.churnPages) m.churn(opts.churnPages);
    } else if (m instanceof SerialMdev) {
      m.receive(opts.queue ?? 0, [rng.u32() & 0xff]);
    } else {
      throw new Error(`lab: ${m.kind} takes work only from its guest driver`);
    }
    delivered++;
    ev = opts.count !== undefined && delivered >= opts.count ? null : clock.after(opts.intervalNs, tick, `${m.name} traffic`);
  };
  ev = clock.after(opts.intervalNs, tick, `${m.name} traffic`);
  return {
    get delivered() {
      return delivered;
    },
    stop() {
      ev?.cancel();
      ev = null;
    },
  };
}
