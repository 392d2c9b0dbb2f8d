/**
 * The migration orchestrator: what QEMU's migration thread and its VFIO
 * handlers do, driven through the uAPI of both hosts.
 *
 * setup      (with requireP2pForMultipleDevices, QEMU's rule first: several devices
 *            only if every one offers P2P) destination host: devices opened, RAM
 *            mapped, devices to RESUMING;
 *            source: CPU dirty log and device-side trackers started, devices
 *            that can to PRE_COPY
 * pre-copy   rounds: round 0 copies all RAM; each later round syncs the dirty
 *            trackers, copies what they reported and reads the devices' pre-copy
 *            data (sized with PRECOPY_INFO, read up to the temporary end), until
 *            what remains fits bandwidth x downtime limit and every pre-copy
 *            device's initial bytes are in (switchover-ack); with autoConverge the
 *            vCPUs are throttled step by step while the guest dirties faster than
 *            pre-copy sends
 * quiesce    vCPUs stop; every device to RUNNING_P2P / PRE_COPY_P2P, then each to
 *            STOP_COPY ("p2p-first"), or each straight to STOP_COPY ("one-step")
 * stop-copy  final RAM sync and copy, then each device's data until read() returns
 *            0, config space and pending interrupts saved; a last sync checks that
 *            nothing was written since
 * resume     destination devices RESUMING -> STOP (they validate), config space
 *            written back (command register, BARs)
 * irq-restore  SET_IRQS with eventfds for the vectors the source had enabled
 * run        destination devices to RUNNING_P2P, then RUNNING; vCPUs start there and
 *            the interrupts the source held are delivered (late)
 * cleanup    source devices STOP_COPY -> STOP, trackers stopped (outside the downtime)
 *
 * Peer writes that reach each device are counted per migration state (p2pArrivals,
 * a lab view), so a report shows what arrived at a device while it was P2P-quiesced
 * or stopped.
 *
 * Any error, or an injected abort, before the vCPUs start on the destination:
 * the source devices return to RUNNING (RUNNING_P2P first; reset if a device is in
 * ERROR), the source vCPUs resume, and the destination devices are reset and closed.
 */
import { MergedTracker, DeviceLogTracker, Type1Tracker, type DirtyTracker } from "../vfio/trackers.js";
import type { MigStateName } from "../../hw-emu/uapi/index.js";
import type { ResumeStream, SaveStream, SetResult } from "../vfio/migration.js";
import { lab } from "../backends/emu.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { AutoConverge } from "./auto-converge.js";
import { resolveCosts, type MigrationCosts } from "./costs.js";
import { CoarseDirty, DirtySet } from "./dirty-set.js";
import type { HostDevice, VmmHost } from "./host.js";
import { Link } from "./link.js";
import { P2pArrivalLog } from "./p2p-arrivals.js";
import { PageCopier } from "./ram.js";
import type { SimulatedVm } from "./simulated-vm.js";
import { TimelineRecorder } from "./timeline.js";
import type {
  AbortPhase,
  DeviceReport,
  IommuBackend,
  IterationReport,
  MigrateOptions,
  MigrationResult,
  PhaseName,
  StopMode,
  TrackingMode,
} from "./types.js";

/** The error an injected abort raises inside the orchestrator. */
export class MigrationAborted extends Error {
  override name = "MigrationAborted";
  constructor(readonly point: { phase: AbortPhase; iteration?: number; device?: number }) {
    const where = point.iteration !== undefined ? ` round ${point.iteration}` : point.device !== undefined ? ` device ${point.device}` : "";
    super(`migration aborted on request in ${point.phase}${where}`);
  }
}

/** Move a simulated VM to a new host. Never rejects for a failed migration: see `ok` and `error`. */
export async function migrate(vm: SimulatedVm, options: MigrateOptions = {}): Promise<MigrationResult> {
  return new MigrationRun(vm, options).run();
}

const PAGE = 4096;
const ABORT_PHASES: readonly AbortPhase[] = ["setup", "pre-copy", "quiesce", "stop-copy", "resume", "irq-restore", "run"];

interface DeviceRun {
  src: HostDevice;
  dst: HostDevice | null;
  save: SaveStream | null;
  resume: ResumeStream | null;
  preCopy: boolean;
  p2p: boolean;
  report: DeviceReport;
  config: Uint8Array | null;
  carriedCounts: number[];
  carriedPending: number[];
}

/** The IOMMU backend a migration with `tracking` needs the VM's devices behind. */
export function backendFor(tracking: TrackingMode, vm: SimulatedVm): IommuBackend {
  if (tracking === "type1" || tracking === "iommufd") return tracking;
  return vm.iommu ?? "iommufd";
}

function interruptLog(dev: HostDevice): lab.InterruptLog | null {
  return lab.interruptLog(dev.entry.model);
}

function nextSeq(log: lab.InterruptLog | null): number {
  const e = log?.entries;
  return e && e.length > 0 ? e[e.length - 1]!.seq + 1 : 0;
}

class MigrationRun {
  private readonly costs: MigrationCosts;
  private readonly tracking: TrackingMode;
  private readonly stop: StopMode;
  private readonly bandwidth: number;
  private readonly thresholdBytes: number;
  private readonly downtimeLimitNs: number;
  private readonly link: Link;
  private readonly rec: TimelineRecorder;
  private readonly dirty: DirtySet;
  private readonly cpuScratch: Uint32Array;
  private readonly abortAt: { phase: AbortPhase; iteration?: number; device?: number } | null;
  private src!: VmmHost;
  private dst: VmmHost | null = null;
  private copier: PageCopier | null = null;
  private devs: DeviceRun[] = [];
  private trackers: DirtyTracker[] = [];
  private merged: MergedTracker | null = null;
  private trackersStarted = false;
  private readonly t0: number;
  private vcpusStoppedAt: number | null = null;
  private downtimeNs = 0;
  private committed = false;
  private converged = true;
  private ramBytes = 0;
  private deviceBytes = 0;
  private readonly warnings: string[] = [];
  private readonly arrivals = new P2pArrivalLog();
  private readonly irq = { onTime: 0, late: 0, maskedPending: 0, accounted: 0, window: false };
  private irqStart: number[] = [];
  private irqTruth: number | null = null;
  private round = 0;
  private readonly autoConverge: AutoConverge | null;
  /** the pending estimate when pre-copy ended (converged, or given up) */
  private switchoverPending = 0;
  /** tracker counts of a sync whose pages were not sent before the switchover */
  private carriedSync: Record<string, number> = {};

  constructor(
    private readonly vm: SimulatedVm,
    private readonly o: MigrateOptions,
  ) {
    this.costs = resolveCosts(o.costs);
    this.tracking = o.tracking ?? (vm.iommu === "type1" ? "type1" : "iommufd");
    if (!["iommufd", "type1", "device-log", "merged"].includes(this.tracking)) throw new RangeError(`tracking must be "iommufd", "type1", "device-log" or "merged", got "${String(this.tracking)}"`);
    this.stop = o.stop ?? "p2p-first";
    if (this.stop !== "p2p-first" && this.stop !== "one-step") throw new RangeError(`stop must be "p2p-first" or "one-step", got "${String(this.stop)}"`);
    this.bandwidth = o.bandwidth ?? 10e9 / 8;
    const limitMs = o.downtimeLimitMs ?? 300;
    if (!(limitMs >= 0)) throw new RangeError(`downtimeLimitMs must be >= 0, got ${limitMs}`);
    this.downtimeLimitNs = Math.round(limitMs * 1e6);
    this.link = new Link(vm.clock, this.bandwidth);
    this.thresholdBytes = this.bandwidth * (limitMs / 1000);
    const max = o.maxIterations ?? 30;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxIterations must be a positive integer, got ${max}`);
    this.autoConverge = AutoConverge.create(o.autoConverge, vm.guest);
    this.abortAt = o.abortAt === undefined ? null : typeof o.abortAt === "string" ? { phase: o.abortAt } : o.abortAt;
    if (this.abortAt && !ABORT_PHASES.includes(this.abortAt.phase)) throw new RangeError(`abortAt: "${String(this.abortAt.phase)}" is not a phase; use one of ${ABORT_PHASES.join(", ")}`);
    // boot (or check) before anything is timed: a backend mismatch is the caller's error
    vm.boot(backendFor(this.tracking, vm));
    this.dirty = new DirtySet(vm.memory / PAGE);
    this.cpuScratch = new Uint32Array(this.dirty.words.length + 1);
    this.rec = new TimelineRecorder(vm.clock, new CoarseDirty(vm.memory / PAGE));
    this.t0 = vm.clock.now;
  }

  run(): MigrationResult {
    this.src = this.vm.host;
    this.openInterruptWindow();
    try {
      this.setup();
      this.preCopy();
      this.stopAndCopy();
      this.resumeDestination();
      this.restoreInterrupts();
      this.start();
      this.cleanup();
      return this.result(null);
    } catch (e) {
      if (this.committed) throw e;
      const failedIn = this.rec.current ?? "setup";
      this.abort(e, failedIn);
      return this.result({ error: e, failedIn });
    }
  }

  // ---- helpers ----

  private checkpoint(phase: AbortPhase, at: { iteration?: number; device?: number } = {}): void {
    const a = this.abortAt;
    if (!a || a.phase !== phase) return;
    const wantsDetail = a.iteration !== undefined || a.device !== undefined;
    if (!wantsDetail && at.iteration === undefined && at.device === undefined) throw new MigrationAborted({ phase });
    if (a.iteration !== undefined && a.iteration === at.iteration) throw new MigrationAborted(a);
    if (a.device !== undefined && a.device === at.device) throw new MigrationAborted(a);
  }

  private hookContext(phase: PhaseName) {
    return { timeNs: this.vm.clock.now, phase, source: this.src, destination: this.dst };
  }

  private begin(phase: PhaseName): void {
    this.rec.begin(phase);
  }

  /** A state change on one device: posted writes to it land first, then the arcs take their time. */
  private arc(d: HostDevice, target: MigStateName, report: string[]): SetResult {
    if (d.host === this.src) this.vm.guest.posted.flush(d.index);
    this.arrivals.settle(d);
    let r: SetResult;
    try {
      r = d.migration.set(target);
    } catch (e) {
      const reached = (e as { reached?: MigStateName }).reached;
      if (reached && report[report.length - 1] !== reached) report.push(reached);
      if (reached) this.arrivals.enter(d, reached);
      throw e;
    }
    for (const s of r.path.slice(1)) report.push(s);
    this.arrivals.enter(d, r.path[r.path.length - 1]!);
    this.link.wait((r.path.length - 1) * this.costs.deviceArcNs);
    return r;
  }

  /** Copy the dirty set's pages to the destination (clearing it); returns bytes and page counts. */
  private sendRam(count: number): { dataPages: number; zeroPages: number; bytes: number } {
    const copier = this.copier!;
    const c = this.costs;
    const slice = Math.max(PAGE, (this.bandwidth * c.ramSliceNs) / 1e9);
    let data = 0;
    let visited = 0;
    let pending = 0;
    let bytes = 0;
    this.dirty.drain(
      () => this.src.ram.allocatedPages(),
      (p) => {
        visited++;
        if (copier.copy(p)) {
          data++;
          pending += PAGE + c.pageHeaderBytes;
        } else {
          pending += c.zeroPageBytes;
        }
        if (pending >= slice) {
          this.link.send(pending);
          bytes += pending;
          pending = 0;
        }
      },
      count,
    );
    pending += (count - visited) * c.zeroPageBytes;
    this.link.send(pending);
    bytes += pending;
    this.ramBytes += bytes;
    return { dataPages: data, zeroPages: count - data, bytes };
  }

  /**
   * The dirty pages since the last sync: CPU log plus every tracker, into the dirty
   * set. Reading the bitmaps takes its time before the reads, so whatever is written
   * while the sync runs shows up in it (and the instant after a sync is covered).
   */
  private sync(): { count: number; perTracker: Record<string, number>; coarse: Uint32Array } {
    const perTracker: Record<string, number> = {};
    const ram = this.src.ram;
    const scratch = this.cpuScratch;
    const bitmapBytes = Math.ceil(ram.pages / 64) * 8 * (1 + this.trackers.length * this.src.ramRanges.length);
    this.link.wait(bitmapBytes * this.costs.harvestNsPerBitmapByte);
    this.src.cpu.read(ram.hostBase, ram.size, scratch);
    perTracker.cpu = this.dirty.or(scratch, true);
    if (this.merged) {
      for (const bm of this.merged.sync()) perTracker[this.merged.name] = (perTracker[this.merged.name] ?? 0) + this.dirty.or(bm.words);
    } else {
      for (const t of this.trackers) {
        for (const bm of t.sync()) perTracker[t.name] = (perTracker[t.name] ?? 0) + this.dirty.or(bm.words);
      }
    }
    const coarse = this.rec.coarse.empty();
    const count = this.dirty.scan(this.rec.coarse, coarse);
    this.link.wait(count * this.costs.harvestNsPerDirtyPage);
    return { count, perTracker, coarse };
  }

  /** What is left to move if we stopped now: dirty RAM plus each device's stop-copy size and unread pre-copy data. */
  private pendingBytes(dirtyPages: number): number {
    let n = dirtyPages * PAGE;
    for (const d of this.devs) {
      n += Number(d.src.migration.dataSize());
      if (d.save && d.preCopy) {
        const info = d.save.precopyInfo();
        n += Number(info.initialBytes + info.dirtyBytes);
      }
    }
    return n;
  }

  /** switchover-ack: every pre-copy device has handed over its initial data */
  private acked(): boolean {
    if (this.o.switchoverAck === false) return true;
    return this.devs.every((d) => !d.save || !d.preCopy || d.save.precopyInfo().initialBytes === 0n);
  }

  /** Read from a save stream and write to the destination, chunk by chunk, over the link. */
  private pump(d: DeviceRun, budget: number): number {
    const c = this.costs;
    let moved = 0;
    for (;;) {
      if (budget <= moved) break;
      const chunk = d.save!.read(Math.min(c.deviceReadBytes, budget - moved));
      if (!chunk || chunk.byteLength === 0) break;
      d.resume!.write(chunk);
      this.link.send(chunk.byteLength + c.deviceChunkHeaderBytes);
      moved += chunk.byteLength;
    }
    this.deviceBytes += moved;
    return moved;
  }

  /** From here on, every interrupt a source device raises must reach the guest: count both sides. */
  private openInterruptWindow(): void {
    const g = this.vm.guest;
    // the VM's event loop hands what is already pending to the guest before the window opens
    if (g.running) g.serviceInterrupts();
    this.irqStart = this.src.devices.map((d) => nextSeq(interruptLog(d)));
    this.irq.window = true;
    g.onInterrupt = (_d, _v, n, masked) => {
      if (!this.irq.window) return;
      this.irq.accounted += n;
      if (masked) this.irq.maskedPending += n;
      else if (this.vcpusStoppedAt === null) this.irq.onTime += n;
      else this.irq.late += n;
    };
  }

  // ---- phases ----

  private setup(): void {
    this.begin("setup");
    this.checkpoint("setup");
    const vm = this.vm;

    if (this.o.requireP2pForMultipleDevices) this.checkMultipleDevicesHaveP2p();
    for (const d of this.src.devices) this.arrivals.watch(d, "source", d.migration.state());
    this.dst = vm.openHost(vm.createMachine("destination"));
    for (const d of this.dst.devices) this.arrivals.watch(d, "destination", d.migration.state());
    this.copier = new PageCopier(this.src.ram, this.dst.ram);
    this.devs = this.src.devices.map((d, i) => {
      const f = d.migration.features;
      return {
        src: d,
        dst: this.dst!.devices[i] ?? null,
        save: null,
        resume: null,
        preCopy: f.preCopy,
        p2p: f.p2p,
        report: { name: d.name, model: d.entry.model.kind, preCopyBytes: 0, stopCopyBytes: 0, dataSize: 0, sourcePath: [d.migration.state()], destinationPath: [] },
        config: null,
        carriedCounts: [],
        carriedPending: [],
      };
    });

    this.trackers = this.buildTrackers();
    this.src.cpu.start();
    this.trackersStarted = true;
    if (this.merged) this.merged.start();
    else for (const t of this.trackers) t.start();

    for (const [i, d] of this.devs.entries()) {
      this.checkpoint("setup", { device: i });
      d.report.dataSize = Number(d.src.migration.dataSize());
      if (d.preCopy) d.save = this.arc(d.src, "PRE_COPY", d.report.sourcePath).data as SaveStream;
    }
    for (const d of this.devs) {
      if (!d.dst) throw new Error(`the destination has no device for ${d.src.name}`);
      d.report.destinationPath.push(d.dst.migration.state());
      d.resume = this.arc(d.dst, "RESUMING", d.report.destinationPath).data as ResumeStream;
    }
  }

  /** QEMU's rule: several devices migrate only if every one can be P2P-quiesced. */
  private checkMultipleDevicesHaveP2p(): void {
    const migratable = this.src.devices.filter((d) => d.device.migration);
    const without = migratable.filter((d) => !d.migration.features.p2p);
    if (migratable.length <= 1 || without.length === 0) return;
    throw new Error(
      `Multiple VFIO devices migration is supported only if all of them support P2P migration: ${without.map((d) => d.name).join(", ")} ${without.length === 1 ? "does" : "do"} not set VFIO_MIGRATION_P2P`,
    );
  }

  private buildTrackers(): DirtyTracker[] {
    const src = this.src;
    // without devices only the guest CPU writes to RAM, and the CPU dirty log sees that
    if (src.devices.length === 0) return [];
    const iommu = src.iommuTracker();
    const logs = src.devices.filter((d) => d.logging).map((d) => new DeviceLogTracker(d.logging!, d.name, src.ramRanges));
    const why = src.backend === "iommufd" ? "its HWPT was allocated without IOMMU_HWPT_ALLOC_DIRTY_TRACKING (the IOMMU lacks the capability)" : "the container reports no migration capability";
    switch (this.tracking) {
      case "type1":
      case "iommufd":
        if (!iommu) throw new Error(`${this.tracking} dirty tracking is unavailable: ${why}`);
        return [iommu];
      case "device-log": {
        const blind = src.devices.filter((d) => !d.logging);
        if (blind.length === 0) return logs;
        if (!iommu) throw new Error(`${blind.map((d) => d.name).join(", ")} cannot log DMA and the IOMMU cannot track dirty pages (${why})`);
        return [...logs, iommu];
      }
      case "merged": {
        const all = iommu ? [iommu, ...logs] : logs;
        if (all.length > 0) this.merged = new MergedTracker(all);
        return all;
      }
    }
  }

  private preCopy(): void {
    this.begin("pre-copy");
    this.checkpoint("pre-copy");
    const max = this.o.maxIterations ?? 30;
    this.dirty.setAll();
    let coarse = this.rec.coarse.empty();
    this.rec.coarse.markAll(coarse);
    let count = this.dirty.pages;
    let perTracker: Record<string, number> = {};
    this.autoConverge?.begin(this.vm.clock.now, this.ramBytes + this.deviceBytes);
    for (let i = 0; ; i++) {
      if (i > 0) {
        ({ count, perTracker, coarse } = this.sync());
        this.autoConverge?.afterSync(this.vm.clock.now, count, this.ramBytes + this.deviceBytes, i);
      }
      const pending = this.pendingBytes(count);
      this.switchoverPending = pending;
      // what this sync found stays in the dirty set and goes with the final round
      this.carriedSync = perTracker;
      if (i > 0 && pending <= this.thresholdBytes && this.acked()) break;
      if (i >= max) {
        this.converged = false;
        if (this.o.onNoConvergence === "abort") throw new Error(`pre-copy did not converge in ${max} rounds: ${pending} bytes remain, the threshold is ${Math.round(this.thresholdBytes)}`);
        break;
      }
      this.checkpoint("pre-copy", { iteration: i });
      const startNs = this.vm.clock.now;
      const ram = this.sendRam(count);
      let deviceBytes = 0;
      for (const d of this.devs) {
        if (!d.save || !d.preCopy) continue;
        const info = d.save.precopyInfo();
        const budget = Number(info.initialBytes + info.dirtyBytes);
        if (budget === 0) continue;
        const n = this.rec.device(d.src.name, "pre-copy", () => this.pump(d, budget));
        d.report.preCopyBytes += n;
        deviceBytes += n;
      }
      this.carriedSync = {};
      this.rec.round(this.roundReport(i, startNs, false, count, ram, deviceBytes, perTracker, pending), coarse);
      this.round = i + 1;
    }
  }

  private roundReport(
    index: number,
    startNs: number,
    final: boolean,
    dirtyPages: number,
    ram: { dataPages: number; zeroPages: number; bytes: number },
    deviceBytes: number,
    perTracker: Record<string, number>,
    pendingBytes: number,
  ): IterationReport {
    return {
      index,
      startNs,
      endNs: this.vm.clock.now,
      final,
      dirtyPages,
      dataPages: ram.dataPages,
      zeroPages: ram.zeroPages,
      ramBytes: ram.bytes,
      deviceBytes,
      perTracker,
      pendingBytes,
      cpuThrottlePct: this.vm.guest.cpuThrottlePct,
    };
  }

  private stopAndCopy(): void {
    const vm = this.vm;
    this.begin("quiesce");
    this.checkpoint("quiesce");
    this.vcpusStoppedAt = vm.clock.now;
    vm.guest.stopVcpus();
    if (this.stop === "p2p-first") {
      for (const [i, d] of this.devs.entries()) {
        if (!d.p2p) continue;
        this.checkpoint("quiesce", { device: i });
        const target = d.src.migration.state() === "PRE_COPY" ? "PRE_COPY_P2P" : "RUNNING_P2P";
        this.rec.device(d.src.name, "quiesce", () => this.arc(d.src, target, d.report.sourcePath));
      }
    }
    for (const [i, d] of this.devs.entries()) {
      this.checkpoint("quiesce", { device: i });
      const r = this.rec.device(d.src.name, "stop", () => this.arc(d.src, "STOP_COPY", d.report.sourcePath));
      if (r.data) d.save = r.data as SaveStream;
    }

    this.begin("stop-copy");
    this.checkpoint("stop-copy");
    const startNs = vm.clock.now;
    const { count, perTracker, coarse } = this.sync();
    for (const [k, n] of Object.entries(this.carriedSync)) perTracker[k] = (perTracker[k] ?? 0) + n;
    const ram = this.sendRam(count);
    let deviceBytes = 0;
    for (const [i, d] of this.devs.entries()) {
      this.checkpoint("stop-copy", { device: i });
      const n = this.rec.device(d.src.name, "stop-copy", () => this.pump(d, Number.POSITIVE_INFINITY));
      d.report.stopCopyBytes += n;
      deviceBytes += n;
      d.config = d.src.readConfig();
    }
    // type1 reports every mapped page on every sync, so it cannot tell what changed
    const blind = this.trackers.some((t) => t instanceof Type1Tracker);
    if (this.o.verifyAfterStop !== false && !blind) {
      const after = this.sync().count;
      if (after > 0) {
        throw new Error(`${after} guest pages were written after every device had stopped and the final copy was made (a device did DMA after STOP); the destination would resume with stale memory`);
      }
    }
    // the interrupt state goes last: what the eventfds hold, and the vectors the devices hold pending
    if (this.o.carryPendingInterrupts !== false) {
      for (const d of this.devs) {
        d.carriedCounts = d.src.drainEventfds();
        d.carriedPending = d.src.pendingVectors();
      }
    }
    this.rec.round(this.roundReport(this.round, startNs, true, count, ram, deviceBytes, perTracker, this.switchoverPending), coarse);
    // what the source's devices raised up to here is the guest's; later activity of a
    // device that ignores STOP no longer belongs to the VM
    this.irqTruth = this.interruptTruth();
    this.o.hooks?.switchover?.(this.hookContext("stop-copy"));
  }

  private resumeDestination(): void {
    this.begin("resume");
    this.checkpoint("resume");
    for (const [i, d] of this.devs.entries()) {
      this.checkpoint("resume", { device: i });
      this.rec.device(d.src.name, "resume", () => {
        this.arc(d.dst!, "STOP", d.report.destinationPath);
        d.resume!.close();
        d.resume = null;
      });
    }
    this.o.hooks?.destinationLoaded?.(this.hookContext("resume"));
    for (const d of this.devs) this.rec.device(d.src.name, "config", () => this.restoreConfig(d));
    this.dst!.mapPeerWindows();
  }

  /** Write the source's command register and BARs into the destination's config region. */
  private restoreConfig(d: DeviceRun): void {
    const cfg = d.config!;
    const dst = d.dst!;
    const u16 = (o: number) => cfg[o]! | (cfg[o + 1]! << 8);
    const cmd = u16(R.PCI_COMMAND);
    dst.writeConfigU16(R.PCI_COMMAND, cmd & ~(R.PCI_COMMAND_IO | R.PCI_COMMAND_MEMORY));
    for (let b = 0; b < R.PCI_NUM_BARS; b++) {
      const o = R.PCI_BASE_ADDRESS_0 + 4 * b;
      dst.config.write(o, cfg.subarray(o, o + 4));
    }
    dst.writeConfigU16(R.PCI_COMMAND, cmd);
    this.link.wait(this.costs.configRestoreNs);
  }

  private restoreInterrupts(): void {
    this.begin("irq-restore");
    this.checkpoint("irq-restore");
    for (const [i, d] of this.devs.entries()) {
      this.checkpoint("irq-restore", { device: i });
      const count = d.src.irq?.count ?? 0;
      if (count === 0) continue;
      this.rec.device(d.src.name, "irq-restore", () => {
        d.dst!.enableInterrupts(count);
        this.link.wait(count * this.costs.irqVectorNs);
      });
    }
  }

  private start(): void {
    const vm = this.vm;
    this.begin("run");
    this.checkpoint("run");
    if (this.stop === "p2p-first") {
      for (const [i, d] of this.devs.entries()) {
        if (!d.p2p) continue;
        this.checkpoint("run", { device: i });
        this.rec.device(d.src.name, "start", () => this.arc(d.dst!, "RUNNING_P2P", d.report.destinationPath));
      }
    }
    for (const [i, d] of this.devs.entries()) {
      this.checkpoint("run", { device: i });
      this.rec.device(d.src.name, "start", () => this.arc(d.dst!, "RUNNING", d.report.destinationPath));
    }
    // the point of no return: the guest runs on the destination from here, unthrottled
    this.committed = true;
    this.autoConverge?.stop();
    vm.switchTo(this.dst!);
    vm.guest.startVcpus();
    this.deliverCarried(true);
    this.downtimeNs = vm.clock.now - this.vcpusStoppedAt!;
    this.irq.window = false;
    vm.guest.onInterrupt = null;
    this.rec.end();
  }

  /** Hand the interrupts the source held to the guest; on the destination also the pending bits. */
  private deliverCarried(withPendingBits: boolean): void {
    const g = this.vm.guest;
    for (const [i, d] of this.devs.entries()) {
      d.carriedCounts.forEach((n, v) => {
        if (n > 0) g.deliver(i, v, n);
      });
      if (withPendingBits) for (const v of d.carriedPending) g.deliver(i, v, 1);
      d.carriedCounts = [];
      d.carriedPending = [];
    }
  }

  private cleanup(): void {
    this.begin("cleanup");
    for (const d of this.devs) {
      this.attempt(`${d.src.name}: STOP_COPY -> STOP`, () => this.arc(d.src, "STOP", d.report.sourcePath));
      this.attempt(`${d.src.name}: closing the save fd`, () => d.save?.close());
      d.save = null;
    }
    this.stopTracking();
    this.rec.end();
  }

  private stopTracking(): void {
    if (!this.trackersStarted) return;
    this.trackersStarted = false;
    this.src.cpu.stop();
    if (this.merged) this.attempt("stopping the merged tracker", () => this.merged!.stop());
    else for (const t of this.trackers) this.attempt(`stopping ${t.name}`, () => t.stop());
  }

  private attempt(what: string, fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      this.warnings.push(`${what}: ${(e as Error).message}`);
    }
  }

  // ---- failure ----

  private abort(e: unknown, failedIn: PhaseName): void {
    const vm = this.vm;
    const message = (e as Error).message ?? String(e);
    this.o.hooks?.aborted?.({ ...this.hookContext(failedIn), error: message });
    if (this.o.freezeWorkloadsOnAbort) vm.guest.freeze();
    this.autoConverge?.stop();
    this.rec.end();
    const abortStart = vm.clock.now;
    // the destination is thrown away: its devices are reset, then everything is closed
    if (this.dst) {
      for (const d of this.devs) {
        this.attempt(`${d.src.name}: closing the resume fd`, () => d.resume?.close());
        d.resume = null;
      }
      for (const d of this.dst.devices) {
        this.attempt(`${d.name} (destination): reset`, () => d.device.reset());
        this.arrivals.enter(d, "RUNNING");
      }
      this.dst.close();
    }
    this.recoverSource();
    this.stopTracking();
    for (const d of this.devs) {
      this.attempt(`${d.src.name}: closing the save fd`, () => d.save?.close());
      d.save = null;
    }
    if (this.vcpusStoppedAt !== null) {
      vm.guest.startVcpus();
      // interrupts raised while stopped: the ones the VMM took from the eventfds, and
      // whatever the devices signalled when they ran again
      this.deliverCarried(false);
      this.downtimeNs = vm.clock.now - this.vcpusStoppedAt;
    }
    vm.guest.serviceInterrupts();
    this.irq.window = false;
    vm.guest.onInterrupt = null;
    this.rec.phases.push({ name: "abort", startNs: abortStart, endNs: vm.clock.now });
  }

  /** Every source device back to RUNNING: stopped ones via RUNNING_P2P first; a device that cannot is reset. */
  private recoverSource(): void {
    const stateOf = (d: DeviceRun): MigStateName | null => {
      try {
        return d.src.migration.state();
      } catch {
        return null;
      }
    };
    const reset = (d: DeviceRun, why: string) => {
      this.warnings.push(`${d.src.name}: ${why}; reset`);
      this.attempt(`${d.src.name}: reset`, () => d.src.device.reset());
      this.arrivals.enter(d.src, "RUNNING");
      d.report.sourcePath.push("RUNNING");
    };
    for (const d of this.devs) {
      const s = stateOf(d);
      if (s === null || s === "ERROR") reset(d, `left in ${s ?? "an unknown state"}`);
    }
    for (const d of this.devs) {
      const s = stateOf(d);
      if (!d.p2p || s === "RUNNING" || s === "PRE_COPY" || s === "RUNNING_P2P" || s === null) continue;
      try {
        this.arc(d.src, "RUNNING_P2P", d.report.sourcePath);
      } catch (e) {
        reset(d, `could not return to RUNNING_P2P (${(e as Error).message})`);
      }
    }
    for (const d of this.devs) {
      if (stateOf(d) === "RUNNING") continue;
      try {
        this.arc(d.src, "RUNNING", d.report.sourcePath);
      } catch (e) {
        reset(d, `could not return to RUNNING (${(e as Error).message})`);
      }
    }
  }

  // ---- report ----

  private lostP2p(host: VmmHost | null): number {
    if (!host) return 0;
    return host.machine.lab.lostWrites().filter((l) => l.kind === "write" && l.reason === "refused" && l.time >= this.t0).length;
  }

  private interruptTruth(): number {
    let n = 0;
    this.src.devices.forEach((d, i) => {
      const log = interruptLog(d);
      if (!log) return;
      const from = this.irqStart[i] ?? 0;
      for (const e of log.entries) if (e.seq >= from && e.outcome === "delivered" && e.consumed) n++;
      // the simulated VM has only NICs (MSI-X) and accelerators (MSI)
      n += lab.pendingInterrupts(d.entry.model).vectors.length;
    });
    return n;
  }

  private result(failure: { error: unknown; failedIn: PhaseName } | null): MigrationResult {
    const now = this.vm.clock.now;
    const lostSrc = this.lostP2p(this.src);
    const lostDst = this.lostP2p(this.dst);
    const lost = Math.max(0, (this.irqTruth ?? this.interruptTruth()) - this.irq.accounted);
    const interrupts = { onTime: this.irq.onTime, late: this.irq.late, lost, maskedPending: this.irq.maskedPending };
    const lostTotal = lostSrc + lostDst;
    const out: MigrationResult = {
      ok: failure === null,
      timeline: {
        phases: this.rec.phases,
        iterations: this.rec.iterations(),
        downtimeNs: this.downtimeNs,
        lostP2PWrites: lostTotal,
        lateInterrupts: interrupts.late,
        lostInterrupts: interrupts.lost,
      },
      heatmap: this.rec.heatmap(),
      downtimeNs: this.downtimeNs,
      downtimeLimitNs: this.downtimeLimitNs,
      totalNs: now - this.t0,
      converged: this.converged,
      thresholdBytes: Math.round(this.thresholdBytes),
      cpuThrottle: this.autoConverge ? [...this.autoConverge.steps] : [],
      iterations: this.rec.rounds,
      bytes: { ram: this.ramBytes, device: this.deviceBytes, total: this.ramBytes + this.deviceBytes },
      lostP2pWrites: { source: lostSrc, destination: lostDst, total: lostTotal },
      p2pArrivals: this.arrivals.report(),
      interrupts,
      devices: this.devs.map((d) => d.report),
      tracking: this.tracking,
      trackers: this.merged ? [this.merged.name] : this.trackers.map((t) => t.name),
      stop: this.stop,
      bandwidth: this.bandwidth,
      warnings: this.warnings,
    };
    if (failure) {
      out.error = (failure.error as Error).message ?? String(failure.error);
      out.failedIn = failure.failedIn;
      out.abortKind = failure.error instanceof MigrationAborted ? "injected" : "error";
    }
    return out;
  }
}
