/**
 * The lab: a door into the emulated hardware that real hardware does not have. Notebooks use
 * it to watch what is normally hidden (memory contents and page hashes, IOMMU dirty bits,
 * faults, lost peer-to-peer writes) and to disturb the machine (run DMA and guest CPU
 * workloads, inject faults and dirty bits, change memory behind the dirty log's back).
 * Everything here works in simulated time and seeded randomness, so runs repeat exactly.
 * Device-specific lab functions (pending interrupts, device state) live with the devices.
 */
import type { Clock } from "../sim/clock.js";
import type { Random } from "../sim/random.js";
import { DmaTraffic, type DmaTrafficConfig } from "../sim/dma-traffic.js";
import { GuestWrites, type GuestWritesConfig } from "../sim/guest-writes.js";
import type { Workload } from "../sim/workload.js";
import { forEachSetBit, setBitRuns, countBits } from "../sim/bitmap.js";
import type { DmaEngine, DmaStatus, LostAccess } from "../hw/dma.js";
import type { FaultInjection, FaultInjectionSpec, IoDomain, IoLeaf, Iommu, IommuFault, LeafSplit, SplitMode } from "../hw/iommu.js";
import { PERM_RW } from "../hw/iommu.js";
import { PAGE_SIZE, type GuestMemory, type MemoryStats } from "../hw/memory.js";
import { GuestDirtyLog } from "../hw/memory-dirty-log.js";
import type { MigratableDevice } from "../hw/devices/migration.js";
import { parseBdf } from "../hw/pci/address.js";
import { ANON_BASE } from "../kernel/user-memory.js";
import type { Mapping } from "../uapi/syscalls.js";
import { modelOf } from "./devices.js";
import { HostRam } from "./host-ram.js";

/** A DMA requester: its PCI requester id, or its address such as "0000:01:00.0". */
export type Requester = number | string;

function requesterIdOf(requester: Requester): number {
  return typeof requester === "string" ? parseBdf(requester) : requester;
}

export interface SplitLeafOptions {
  /** "atomic" (default) or "break-before-make" */
  mode?: SplitMode;
  /** simulated ns between beginning and finishing the split (default 0: at once) */
  gapNs?: number;
}

export interface LabParts {
  clock: Clock;
  /** the lab's own randomness (workloads fork streams from it) */
  rng: Random;
  memory: GuestMemory;
  iommu: Iommu;
  dma: DmaEngine;
  /** guest CPU write path; guest workloads write through it when present */
  cpu?: GuestDirtyLog;
}

/** A page and its content hash. */
export interface PageHash {
  gpa: number;
  hash: number;
}

/** A range of dirty IOVA space. */
export interface DirtyRun {
  iova: number;
  length: number;
}

/** Outcome counts of a DMA traffic workload started by the lab. */
export interface TrafficOutcomes {
  ok: number;
  fault: number;
  "bus-master-disabled": number;
  unclaimed: number;
}

export class HardwareLab {
  private readonly workloads = new Set<Workload>();

  constructor(private readonly parts: LabParts) {}

  /** current simulated time in ns */
  get now(): number {
    return this.parts.clock.now;
  }

  /** Let simulated time pass (running workloads and any other scheduled events). */
  advance(ns: number): void {
    this.parts.clock.advance(ns);
  }

  // ---- memory ----

  readMemory(gpa: number, length: number): Uint8Array {
    return this.parts.memory.read(gpa, length);
  }

  memoryStats(): MemoryStats {
    return this.parts.memory.stats();
  }

  memoryDigest(start?: number, length?: number): string {
    return this.parts.memory.digest(start, length);
  }

  pageHash(gpa: number): number {
    return this.parts.memory.pageHash(gpa);
  }

  /** Hashes of the allocated pages in [start, start+length), ascending. */
  pageHashes(start = 0, length = this.parts.memory.size): PageHash[] {
    const m = this.parts.memory;
    return Array.from(m.allocatedPageAddresses(start, length), (gpa) => ({ gpa, hash: m.pageHash(gpa) }));
  }

  /**
   * Write guest memory without going through the CPU dirty log: a change the migration
   * would never hear about. Shows what a missed dirty page does to the destination.
   */
  writeMemoryUnlogged(gpa: number, data: Uint8Array): void {
    this.parts.memory.write(gpa, data);
  }

  // ---- the host memory behind userspace mappings ----

  /**
   * Host physical address of the first byte of an anonymous mapping. The emulated kernel
   * places anonymous memory at a fixed user address plus its host physical address.
   */
  hostAddress(mapping: Mapping): number {
    const host = mapping.addr - ANON_BASE;
    if (host < 0n || host + BigInt(mapping.length) > BigInt(this.parts.memory.size)) {
      throw new RangeError(`lab: 0x${mapping.addr.toString(16)} is not an anonymous mapping of this machine`);
    }
    return Number(host);
  }

  /** Guest RAM made of an anonymous mapping, seen through the host memory behind it. */
  guestRam(mapping: Mapping, size = mapping.length): HostRam {
    return new HostRam(this.parts.memory, this.hostAddress(mapping), size);
  }

  /** A new log of guest CPU stores into host memory (the dirty log a hypervisor keeps for its guest). */
  cpuDirtyLog(): GuestDirtyLog {
    return new GuestDirtyLog(this.parts.memory);
  }

  // ---- IOMMU ----

  /**
   * Map `to`'s BAR into the IOMMU domain of `from` at `iova`, so `from` reaches it by DMA
   * (peer to peer). A VMM does this with MAP_DMA or IOAS_MAP of the BAR's mmap; the emulated
   * kernel pins only anonymous memory, so the lab installs the window in the domain directly.
   * Maps at least `minSize` bytes. Returns the bytes mapped, or null when `to` has no such BAR
   * or it has no address yet.
   */
  mapPeerBar(from: MigratableDevice, to: MigratableDevice, iova: number, opts: { bar?: number; minSize?: number } = {}): number | null {
    const src = modelOf(from);
    const dst = modelOf(to);
    const domain = this.parts.iommu.domainOf(src.fn.routingId);
    if (!domain) throw new Error(`${src.name} is not attached to an IOMMU domain`);
    const bar = opts.bar ?? 0;
    const size = dst.fn.bar(bar)?.size;
    const addr = dst.fn.barAddress(bar);
    if (size === undefined || addr === null || addr === undefined) return null;
    const length = Math.max(size, opts.minSize ?? 0);
    domain.map(iova, Number(addr), length, PERM_RW);
    return length;
  }

  /**
   * IOVAs of dirty pages in [iova, iova+length) at `pageSize` granularity (ascending, at
   * most `limit`). Does not clear anything: watching must not change the result of the
   * next harvest.
   */
  dirtyPages(domain: IoDomain, iova: number, length: number, pageSize = PAGE_SIZE, limit = 1_000_000): number[] {
    const bits = this.peek(domain, iova, length, pageSize);
    const out: number[] = [];
    forEachSetBit(bits, (n) => {
      if (out.length < limit) out.push(iova + n * pageSize);
    });
    return out;
  }

  /** number of dirty pages in the range (not cleared) */
  dirtyCount(domain: IoDomain, iova: number, length: number, pageSize = PAGE_SIZE): number {
    return countBits(this.peek(domain, iova, length, pageSize));
  }

  /** dirty ranges in the range, merged (not cleared): compact for plots */
  dirtyRuns(domain: IoDomain, iova: number, length: number, pageSize = PAGE_SIZE): DirtyRun[] {
    return setBitRuns(this.peek(domain, iova, length, pageSize)).map((r) => ({ iova: iova + r.start * pageSize, length: r.length * pageSize }));
  }

  /** Set dirty bits as if a device had written there (the iommufd selftest's mock does this). */
  injectDirty(domain: IoDomain, iova: number, length: number): void {
    domain.markDirty(iova, length);
  }

  /** Clear dirty bits without reporting them: a dirty bit the hardware lost. */
  loseDirty(domain: IoDomain, iova: number, length: number): void {
    const start = Math.floor(iova / PAGE_SIZE) * PAGE_SIZE;
    const end = Math.ceil((iova + length) / PAGE_SIZE) * PAGE_SIZE;
    domain.readDirty(start, end - start, PAGE_SIZE, new Uint32Array(Math.ceil((end - start) / PAGE_SIZE / 32)));
  }

  mappings(domain: IoDomain, iova?: number, length?: number): IoLeaf[] {
    return domain.mappings(iova, length);
  }

  /** The IO domain a device is attached to (by requester id or PCI address), or null. */
  domainOf(requester: Requester): IoDomain | null {
    return this.parts.iommu.domainOf(requesterIdOf(requester)) ?? null;
  }

  /**
   * Split the huge IOMMU leaf that maps `iova` into 512 leaves of the next smaller size, as an
   * IOMMU driver would to track dirty pages at a finer grain (see `IoDomain.beginSplit`). The
   * split begins now and finishes `gapNs` of simulated time later: with "break-before-make",
   * DMA into the leaf's range faults in between; with "atomic", it keeps translating through
   * the old leaf. Returns the split (its `done` turns true when it finishes).
   */
  splitLeaf(domain: IoDomain, iova: number, options: SplitLeafOptions = {}): LeafSplit {
    const gap = options.gapNs ?? 0;
    if (!Number.isSafeInteger(gap) || gap < 0) throw new RangeError(`splitLeaf: gapNs must be a non-negative integer, got ${gap}`);
    const split = domain.beginSplit(iova, options.mode ?? "atomic");
    if (gap === 0) split.finish();
    else this.parts.clock.after(gap, () => split.finish(), `split ${domain.name} 0x${split.leaf.iova.toString(16)}`);
    return split;
  }

  faults(): readonly IommuFault[] {
    return this.parts.iommu.faults;
  }

  clearFaults(): void {
    this.parts.iommu.clearFaults();
  }

  /** Make matching DMA fail with a recorded fault (see `Iommu.injectFault`). */
  injectFault(spec: FaultInjectionSpec): FaultInjection {
    return this.parts.iommu.injectFault(spec);
  }

  iotlb(): { hits: number; misses: number; invalidations: number; occupied: number } {
    return { ...this.parts.iommu.iotlbStats, occupied: this.parts.iommu.iotlbOccupancy };
  }

  // ---- DMA ----

  /** peer-to-peer accesses a target refused, and accesses nothing claimed */
  lostWrites(): readonly LostAccess[] {
    return this.parts.dma.lost;
  }

  dmaStats(): Readonly<DmaEngine["stats"]> {
    return this.parts.dma.stats;
  }

  // ---- workloads ----

  /**
   * Start device DMA traffic issued as `requester` (a requester id or PCI address, which must be
   * connected to the DMA engine, normally by its device model). Returns the workload and a live
   * count of outcomes.
   */
  startDmaTraffic(requester: Requester, config: DmaTrafficConfig, delay = 0): { workload: DmaTraffic; outcomes: TrafficOutcomes } {
    const { dma, clock, rng } = this.parts;
    const rid = requesterIdOf(requester);
    const outcomes: TrafficOutcomes = { ok: 0, fault: 0, "bus-master-disabled": 0, unclaimed: 0 };
    const buf = new Uint8Array(config.size);
    const workload = new DmaTraffic(clock, rng.fork(), config, (op) => {
      const st: DmaStatus = op.kind === "write" ? dma.write(rid, op.iova, op.data) : dma.readInto(rid, op.iova, buf);
      outcomes[st]++;
    });
    this.track(workload, delay);
    return { workload, outcomes };
  }

  /** Start guest CPU writes (through the CPU dirty log when the lab has one). */
  startGuestWrites(config: GuestWritesConfig, delay = 0): GuestWrites {
    const { memory, cpu, clock, rng } = this.parts;
    const write = cpu ? (gpa: number, d: Uint8Array) => cpu.write(gpa, d) : (gpa: number, d: Uint8Array) => memory.write(gpa, d);
    const workload = new GuestWrites(clock, rng.fork(), config, write);
    this.track(workload, delay);
    return workload;
  }

  /** workloads started by the lab that are still running */
  runningWorkloads(): Workload[] {
    return [...this.workloads].filter((w) => w.running);
  }

  stopAll(): void {
    for (const w of this.workloads) w.stop();
    this.workloads.clear();
  }

  private track(w: Workload, delay: number): void {
    this.workloads.add(w);
    w.start(delay);
  }

  private peek(domain: IoDomain, iova: number, length: number, pageSize: number): Uint32Array {
    const bits = new Uint32Array(Math.ceil(length / pageSize / 32));
    domain.readDirty(iova, length, pageSize, bits, { clear: false });
    return bits;
  }
}
