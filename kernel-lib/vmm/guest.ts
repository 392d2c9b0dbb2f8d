/**
 * The simulated guest: vCPUs that dirty RAM at a rate, device drivers that keep
 * their devices busy, the interrupt side of the VM (which vectors the guest
 * enabled and masked, what it received), and the outside world's traffic
 * (packets arriving on the wire, which keep coming while the vCPUs are stopped).
 * Everything runs as events on the shared simulated clock.
 */
import type { Clock, ScheduledEvent } from "../../hw-emu/sim/clock.js";
import { NS_PER_S } from "../../hw-emu/sim/clock.js";
import { Random } from "../../hw-emu/sim/random.js";
import { GuestWrites } from "../../hw-emu/sim/guest-writes.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { lab } from "../backends/emu.js";
import { GuestAccel, GuestNic, type GuestMemoryAccess } from "./guest-drivers.js";
import type { VmmHost } from "./host.js";
import type { GuestWorkloadConfig, VmDeviceConfig } from "./types.js";

export interface ResolvedWorkload {
  pagesPerSecond: number;
  workingSet: number;
  locality: NonNullable<GuestWorkloadConfig["locality"]>;
  packetsPerSecond: number;
  churnPages: number;
  p2pPerSecond: number;
  jobsPerSecond: number;
  tickNs: number;
  doorbellLatencyNs: number;
}

/** The VM's interrupt state for one device: the guest's (emulated) vector masks and what it received. */
export interface DeviceIrqState {
  /** vectors the guest enabled */
  vectors: number;
  masked: Set<number>;
  /** interrupts the guest handled, per vector */
  received: number[];
  /** interrupts held for masked vectors (the emulated pending bits), per vector */
  held: number[];
}

/** Interrupts the source had not delivered when it stopped, carried to the destination. */
export interface CarriedInterrupts {
  /** per device, per vector: eventfd counts the guest had not yet handled */
  counts: number[][];
}

interface Cancellable {
  cancel(): void;
}

const DRIVER_BASE = 1 << 20;
const PACKET_BYTES = 256;

export class Guest {
  host!: VmmHost;
  readonly posted: lab.PostedWrites;
  readonly irq: DeviceIrqState[];
  private readonly nics: (GuestNic | null)[];
  private readonly accels: (GuestAccel | null)[];
  private readonly rng: Random;
  private readonly wireRng: Random;
  private writes: GuestWrites | null = null;
  private tickEv: ScheduledEvent | null = null;
  private wireEvs: Cancellable[] = [];
  private p2pEvs: Cancellable[] = [];
  private jobCarry = 0;
  private p2pValue = 1;
  private vcpus = false;
  private frozen = false;
  private throttlePct = 0;
  private booted = false;
  /** called for every interrupt the guest handles or holds: (device, vector, count, masked) */
  onInterrupt: ((device: number, vector: number, count: number, masked: boolean) => void) | null = null;
  /** guest physical range the CPU writes into */
  readonly workingSet: { base: number; length: number };
  readonly driverArea: { base: number; length: number };

  constructor(
    private readonly clock: Clock,
    seed: number,
    readonly memorySize: number,
    readonly deviceConfigs: readonly VmDeviceConfig[],
    readonly workload: ResolvedWorkload,
  ) {
    this.rng = new Random(seed);
    this.wireRng = this.rng.fork();
    this.posted = new lab.PostedWrites(clock);
    this.irq = deviceConfigs.map((c) => ({ vectors: 0, masked: new Set(c.maskedVectors ?? []), received: [], held: [] }));
    this.nics = deviceConfigs.map(() => null);
    this.accels = deviceConfigs.map(() => null);
    let at = DRIVER_BASE;
    const bases = deviceConfigs.map((c) => {
      const b = at;
      at += c.model === "nic" ? GuestNic.footprint(c.queues ?? 2) : GuestAccel.footprint();
      return b;
    });
    this.driverArea = { base: DRIVER_BASE, length: at - DRIVER_BASE };
    const wsBase = Math.ceil(at / (2 << 20)) * (2 << 20);
    if (wsBase + 4096 > memorySize) throw new RangeError(`guest RAM of ${memorySize} bytes leaves no room for the working set after ${wsBase} bytes of driver memory`);
    const wsLength = Math.floor(Math.min(workload.workingSet, memorySize - wsBase) / 4096) * 4096;
    this.workingSet = { base: wsBase, length: wsLength };
    const mem = this.memoryAccess();
    deviceConfigs.forEach((c, i) => {
      const regs = () => lab.guestBar0(this.host.devices[i]!.entry.model);
      if (c.model === "nic") this.nics[i] = new GuestNic(i, regs, mem, this.posted, workload.doorbellLatencyNs, bases[i]!, c.queues ?? 2);
      else this.accels[i] = new GuestAccel(i, regs, mem, bases[i]!);
    });
  }

  /** The guest kernel's view of its RAM: stores are logged by the host's dirty log. */
  memoryAccess(): GuestMemoryAccess {
    return {
      read: (gpa, n) => this.host.ram.read(gpa, n),
      write: (gpa, d) => this.host.cpu.write(this.host.ram.host(gpa), d),
    };
  }

  get running(): boolean {
    return this.vcpus;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  /** Firmware and guest kernel bring-up on `host`: decode and bus mastering, interrupts, drivers; then run. */
  boot(host: VmmHost): void {
    if (this.booted) throw new Error("the guest is already booted");
    this.host = host;
    this.booted = true;
    host.devices.forEach((d, i) => {
      d.writeConfigU16(R.PCI_COMMAND, d.readConfigU16(R.PCI_COMMAND) | R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
      const irq = d.enableInterrupts();
      const st = this.irq[i]!;
      st.vectors = irq?.count ?? 0;
      st.received = new Array<number>(st.vectors).fill(0);
      st.held = new Array<number>(st.vectors).fill(0);
      for (const v of st.masked) if (v >= st.vectors) throw new RangeError(`${d.name}: masked vector ${v} does not exist (the device has ${st.vectors})`);
    });
    host.mapPeerWindows();
    this.nics.forEach((n) => n?.init());
    this.accels.forEach((a, i) => a?.init(0x5a + i));
    this.startWire();
    this.startVcpus();
  }

  /** Move to another host (after a migration): drivers, RAM and interrupts follow; nothing is re-initialised. */
  attach(host: VmmHost): void {
    this.host = host;
  }

  // ---- vCPUs ----

  /**
   * Throttle the vCPUs by `pct` percent, as QEMU's cpu_throttle_set() does for
   * auto-converge: they run (100 - pct)% of the time. In this model only the CPU's
   * page stores slow down; the drivers' interrupt handling and the wire do not.
   */
  setCpuThrottle(pct: number): void {
    if (!Number.isFinite(pct) || pct < 0 || pct > 99) throw new RangeError(`CPU throttle must be 0..99 percent, got ${pct}`);
    this.throttlePct = pct;
    this.writes?.setPagesPerSecond(this.storesPerSecond());
  }

  /** the vCPU throttle in percent (0 when not throttled) */
  get cpuThrottlePct(): number {
    return this.throttlePct;
  }

  private storesPerSecond(): number {
    return (this.workload.pagesPerSecond * (100 - this.throttlePct)) / 100;
  }

  startVcpus(): void {
    if (this.vcpus || this.frozen) {
      this.vcpus = true;
      return;
    }
    this.vcpus = true;
    this.startGuestActivity();
  }

  stopVcpus(): void {
    this.vcpus = false;
    this.stopGuestActivity();
  }

  /** Stop everything that changes the VM on its own: the guest's activity and the wire's. */
  freeze(): void {
    this.frozen = true;
    this.stopGuestActivity();
    for (const e of this.wireEvs) e.cancel();
    this.wireEvs = [];
  }

  /** Undo freeze(): the wire resumes, and the guest too if its vCPUs run. */
  unfreeze(): void {
    if (!this.frozen) return;
    this.frozen = false;
    this.startWire();
    if (this.vcpus) this.startGuestActivity();
  }

  private startGuestActivity(): void {
    const w = this.workload;
    if (w.pagesPerSecond > 0 && this.workingSet.length >= 4096) {
      this.writes ??= new GuestWrites(this.clock, this.rng.fork(), { workingSet: this.workingSet, pagesPerSecond: w.pagesPerSecond, locality: w.locality, tickNs: w.tickNs, name: "guest vCPU stores" }, (gpa, d) =>
        this.host.cpu.write(this.host.ram.host(gpa), d),
      );
      this.writes.setPagesPerSecond(this.storesPerSecond());
      this.writes.start();
    }
    this.tickEv = this.clock.after(w.tickNs, () => this.tick(), "guest driver tick");
    if (w.p2pPerSecond > 0) {
      const gap = NS_PER_S / w.p2pPerSecond;
      this.nics.forEach((from, i) => {
        if (!from || from.p2pQueue === null) return;
        this.nics.forEach((to, j) => {
          if (!to || j === i) return;
          // stagger the pairs so their doorbells do not all land in the same instant
          this.p2pEvs.push(this.chain(gap, ((i * 7 + j * 3) % 16) / 16, () => this.ringPeer(i, j), `p2p ${i}->${j}`));
        });
      });
    }
  }

  private stopGuestActivity(): void {
    this.writes?.stop();
    this.tickEv?.cancel();
    this.tickEv = null;
    for (const e of this.p2pEvs) e.cancel();
    this.p2pEvs = [];
  }

  /** A self-rescheduling event every `gap` ns (exact fractional spacing), first after `phase` of a gap. */
  private chain(gap: number, phase: number, fn: () => void, label: string): Cancellable {
    let due = this.clock.now + gap * (1 + phase);
    let ev: ScheduledEvent | null = null;
    const schedule = () => {
      ev = this.clock.at(Math.max(this.clock.now, Math.round(due)), () => {
        due += gap;
        fn();
        schedule();
      }, label);
    };
    schedule();
    return { cancel: () => ev?.cancel() };
  }

  private ringPeer(from: number, to: number): void {
    const peer = this.host.devices[to]?.p2pIova;
    if (peer == null) return;
    const slot = lab.NIC_REGS.MAILBOX + 4 * (from % lab.NIC_REGS.MAILBOX_SLOTS);
    this.nics[from]!.ringPeer(peer + slot, this.p2pValue++);
  }

  private tick(): void {
    this.serviceInterrupts();
    for (const n of this.nics) n?.refillRx();
    if (this.workload.jobsPerSecond > 0) {
      this.jobCarry += (this.workload.jobsPerSecond * this.workload.tickNs) / NS_PER_S;
      const jobs = Math.floor(this.jobCarry);
      this.jobCarry -= jobs;
      for (let k = 0; k < jobs; k++) for (const a of this.accels) a?.submit();
    }
    this.tickEv = this.clock.after(this.workload.tickNs, () => this.tick(), "guest driver tick");
  }

  // ---- the wire ----

  private startWire(): void {
    const w = this.workload;
    if (w.packetsPerSecond <= 0) return;
    const gap = NS_PER_S / w.packetsPerSecond;
    this.nics.forEach((n, i) => {
      if (!n) return;
      this.wireEvs.push(this.chain(gap, (i % 8) / 8, () => this.packetArrives(i), `wire -> device ${i}`));
    });
  }

  private packetArrives(i: number): void {
    const device = this.host.devices[i]!.entry.model;
    if (lab.modelName(device) !== "nic") return;
    lab.deliverPacket(device, this.wireRng.bytes(new Uint8Array(PACKET_BYTES)), { churnPages: this.workload.churnPages });
  }

  // ---- interrupts ----

  /** What the VM's event loop does: read every vector's eventfd and hand the interrupts to the guest. */
  serviceInterrupts(): void {
    this.host.devices.forEach((d, i) => {
      const counts = d.drainEventfds();
      for (let v = 0; v < counts.length; v++) if (counts[v]! > 0) this.deliver(i, v, counts[v]!);
    });
  }

  /** Interrupts for (device, vector): handled by the guest, or held while the guest masks the vector. */
  deliver(device: number, vector: number, count: number): void {
    const st = this.irq[device]!;
    const masked = st.masked.has(vector);
    if (masked) st.held[vector] = (st.held[vector] ?? 0) + count;
    else st.received[vector] = (st.received[vector] ?? 0) + count;
    this.onInterrupt?.(device, vector, count, masked);
  }

  /** The guest unmasks a vector: what was held for it is delivered now. */
  unmask(device: number, vector: number): void {
    const st = this.irq[device]!;
    st.masked.delete(vector);
    const held = st.held[vector] ?? 0;
    st.held[vector] = 0;
    if (held > 0) this.deliver(device, vector, held);
  }

  /** total interrupts the guest handled (all devices, all vectors) */
  get interruptsReceived(): number {
    return this.irq.reduce((n, s) => n + s.received.reduce((a, b) => a + b, 0), 0);
  }

  /** peer doorbells and accelerator jobs the guest dropped because a ring was full */
  get skippedWork(): number {
    return this.nics.reduce((n, x) => n + (x?.skipped ?? 0), 0) + this.accels.reduce((n, x) => n + (x?.skipped ?? 0), 0);
  }
}
