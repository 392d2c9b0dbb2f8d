/**
 * What every device model shares: the run state and its checks, health
 * (failed after a broken arc until reset), the single open migration
 * session, the DMA port with its gates (no DMA while stopped, no P2P while
 * P2P-quiesced) and a bounded trace of every DMA the device attempted.
 */
import type { TimeSource } from "../../sim/clock.js";
import type { DmaEngine, DmaPort, DmaStatus } from "../dma.js";
import type { PciFunction } from "../pci/function.js";
import { PageDirtyLog } from "./dma-log.js";
import {
  DeviceMigrationError,
  noFaults,
  type DeviceDmaLog,
  type DeviceHealth,
  type FaultControls,
  type MigratableDevice,
  type MigrationFeatures,
  type ResumeStream,
  type RunState,
  type SaveStream,
} from "./migration.js";

/** Outcome of a DMA attempt as the model sees it: the engine's status, or a refusal by the model's own gate. */
export type DeviceDmaStatus = DmaStatus | "refused-stopped" | "refused-p2p-quiesced" | "no-dma";

export interface DmaTraceEntry {
  time: number;
  op: "read" | "write";
  iova: number;
  length: number;
  p2p: boolean;
  runState: RunState;
  status: DeviceDmaStatus;
}

/** Facts the faulty wrapper and conformance checks need about a model. */
export interface DeviceTraits {
  /** the device issues DMA at all */
  dma: boolean;
  /** the device initiates peer-to-peer writes */
  p2pInitiator: boolean;
  /** the device has a BAR its peers write into (a doorbell or mailbox) */
  p2pTarget: boolean;
}

export interface DeviceCounters {
  /** DMA attempts the model's own gate refused */
  dmaRefused: number;
  /** DMA performed while stopped (only possible with fault injection) */
  dmaWhileStopped: number;
  /** peer-to-peer writes initiated */
  p2pInitiated: number;
  /** peer-to-peer writes initiated while P2P-quiesced or stopped (fault injection) */
  p2pWhileQuiesced: number;
  /** peer writes this device refused */
  peerWritesRefused: number;
  /** peer writes this device accepted */
  peerWritesAccepted: number;
  /** DMA writes whose pages the device log deliberately skipped (fault injection) */
  dirtyLogSkipped: number;
}

export interface DeviceBaseOptions {
  /** DMA engine the device masters through (required for DMA-capable models) */
  dma?: DmaEngine | null;
  time?: TimeSource | null;
  /** DMA trace entries kept (default 4096) */
  traceLimit?: number;
}

type Session = SaveStream | ResumeStream;

export abstract class DeviceModel implements MigratableDevice {
  abstract readonly kind: string;
  abstract readonly name: string;
  abstract readonly fn: PciFunction;
  abstract readonly features: MigrationFeatures;
  abstract readonly preCopyEmptyRead: "enomsg" | "zero";
  abstract readonly traits: DeviceTraits;
  readonly faults: FaultControls = noFaults();
  readonly counters: DeviceCounters = {
    dmaRefused: 0,
    dmaWhileStopped: 0,
    p2pInitiated: 0,
    p2pWhileQuiesced: 0,
    peerWritesRefused: 0,
    peerWritesAccepted: 0,
    dirtyLogSkipped: 0,
  };
  protected readonly time: TimeSource | null;
  private readonly engine: DmaEngine | null;
  private port: DmaPort | null = null;
  private state: RunState = "running";
  private healthState: DeviceHealth = "ok";
  private failure: string | null = null;
  private current: Session | null = null;
  private trace: DmaTraceEntry[] = [];
  private readonly traceLimit: number;
  /** the device-side DMA log, when the model offers one */
  protected pageLog: PageDirtyLog | null = null;

  constructor(opts: DeviceBaseOptions) {
    this.engine = opts.dma ?? null;
    this.time = opts.time ?? null;
    this.traceLimit = opts.traceLimit ?? 4096;
  }

  get runState(): RunState {
    return this.state;
  }

  get health(): DeviceHealth {
    return this.healthState;
  }

  /** why the device failed, if it did */
  get failureReason(): string | null {
    return this.failure;
  }

  get session(): SaveStream | ResumeStream | null {
    return this.current && !this.current.closed ? this.current : null;
  }

  get dmaLog(): DeviceDmaLog | null {
    return this.pageLog;
  }

  /** DMA attempts, oldest first (bounded). */
  get dmaTrace(): readonly DmaTraceEntry[] {
    if (this.trace.length > this.traceLimit) this.trace = this.trace.slice(-this.traceLimit);
    return this.trace;
  }

  protected now(): number {
    return this.time ? this.time.now : 0;
  }

  // ---- verbs ----

  protected assertHealthy(): void {
    if (this.healthState === "failed") throw new DeviceMigrationError("device-failed", `${this.name} failed (${this.failure}); reset required`);
  }

  run(): void {
    this.assertHealthy();
    this.setRunState("running");
  }

  quiesceP2P(): void {
    this.assertHealthy();
    if (!this.features.p2p) throw new DeviceMigrationError("unsupported", `${this.name} has no P2P quiesce state`);
    this.setRunState("running-p2p");
  }

  stop(): void {
    this.assertHealthy();
    this.setRunState("stopped");
  }

  private setRunState(next: RunState): void {
    const prev = this.state;
    if (prev === next) return;
    this.state = next;
    this.onRunStateChange(prev, next);
  }

  /** Model hook: hold/release interrupts, resume queued work, and the like. */
  protected abstract onRunStateChange(prev: RunState, next: RunState): void;

  startSave(opts: { preCopy: boolean }): SaveStream {
    this.assertHealthy();
    if (opts.preCopy) {
      if (!this.features.preCopy) throw new DeviceMigrationError("unsupported", `${this.name} has no pre-copy`);
      if (this.state === "stopped") throw new DeviceMigrationError("invalid-state", "pre-copy needs a running device");
    } else if (this.state !== "stopped") {
      throw new DeviceMigrationError("invalid-state", "stop-copy needs a stopped device");
    }
    this.closeSession();
    const s = this.createSaveStream(opts.preCopy);
    this.current = s;
    return s;
  }

  startResume(): ResumeStream {
    this.assertHealthy();
    if (this.state !== "stopped") throw new DeviceMigrationError("invalid-state", "resume needs a stopped device");
    this.closeSession();
    const s = this.createResumeStream();
    this.current = s;
    return s;
  }

  protected abstract createSaveStream(preCopy: boolean): SaveStream;
  protected abstract createResumeStream(): ResumeStream;

  /** Ends the open session, if any. */
  closeSession(): void {
    if (this.current && !this.current.closed) this.current.close();
    this.current = null;
  }

  abstract stopCopyLength(): number;
  abstract save(): Uint8Array;
  abstract load(bytes: Uint8Array): void;
  abstract describe(): Record<string, unknown>;

  enterFailedState(detail: string): void {
    this.healthState = "failed";
    this.failure = detail;
    this.closeSession();
    // A failed device does nothing: treat it as stopped until reset.
    this.setRunState("stopped");
  }

  /**
   * Device reset (what VFIO_DEVICE_RESET / FLR does): internal state to its
   * reset values, sessions closed, healthy, running. Device DMA logging is
   * left as it was: it is controlled separately by its own start/stop.
   */
  reset(): void {
    if (this.fn.isSealed) this.fn.reset();
    else this.resetDevice();
  }

  /** Runs from the function's reset hook (FLR) and from reset(). */
  protected resetDevice(): void {
    this.closeSession();
    this.healthState = "ok";
    this.failure = null;
    this.resetInternalState();
    this.setRunState("running");
  }

  protected abstract resetInternalState(): void;

  /** Subclasses call this once their function exists. */
  protected installResetHook(): void {
    this.fn.onReset(() => this.resetDevice());
  }

  // ---- DMA ----

  /** True when the device may process queued work (and DMA). */
  protected mayProcess(): boolean {
    if (this.healthState === "failed") return false;
    return this.state !== "stopped" || this.faults.dmaWhileStopped;
  }

  /** True when the device may initiate a peer-to-peer write now. */
  protected mayInitiateP2p(): boolean {
    if (!this.mayProcess()) return false;
    return this.state === "running" || this.faults.p2pWhileQuiesced;
  }

  /** Peer writes are accepted unless the device is stopped or failed (or a fault refuses them while P2P-quiesced). */
  protected acceptPeerWrite(): boolean {
    const ok = this.healthState === "ok" && this.state !== "stopped" && !(this.state === "running-p2p" && this.faults.refusePeerWritesWhileQuiesced);
    if (ok) this.counters.peerWritesAccepted++;
    else this.counters.peerWritesRefused++;
    return ok;
  }

  private ensurePort(): DmaPort | null {
    if (this.port) return this.port;
    if (!this.engine || !this.fn.attached) return null;
    const fn = this.fn;
    this.port = this.engine.connect(fn.routingId, {
      name: this.name,
      busMasterEnabled: () => fn.busMasterEnabled(),
      onWrite: (iova, length) => this.onDmaWritten(iova, length),
    });
    return this.port;
  }

  /** Drops the DMA connection (the function was removed from the bus). */
  disconnectDma(): void {
    this.port?.disconnect();
    this.port = null;
  }

  private onDmaWritten(iova: number, length: number): void {
    const log = this.pageLog;
    if (!log || !log.covers(iova, length)) return;
    if (this.faults.dirtyLogSkips > 0) {
      this.faults.dirtyLogSkips--;
      this.counters.dirtyLogSkipped++;
      return;
    }
    log.record(iova, length);
  }

  private gate(p2p: boolean): DeviceDmaStatus | null {
    if (this.healthState === "failed") return "refused-stopped";
    if (this.state === "stopped" && !this.faults.dmaWhileStopped) return "refused-stopped";
    if (p2p && this.state !== "running" && !this.faults.p2pWhileQuiesced) return "refused-p2p-quiesced";
    return null;
  }

  private record(entry: Omit<DmaTraceEntry, "time" | "runState">): void {
    this.trace.push({ time: this.now(), runState: this.state, ...entry });
    // Trimmed in batches: amortised O(1) per access.
    if (this.trace.length >= 2 * this.traceLimit) this.trace = this.trace.slice(-this.traceLimit);
  }

  protected dmaWrite(iova: number, data: Uint8Array, p2p = false): DeviceDmaStatus {
    const refused = this.gate(p2p);
    let status: DeviceDmaStatus;
    if (refused) {
      this.counters.dmaRefused++;
      status = refused;
    } else {
      const port = this.ensurePort();
      status = port ? port.write(iova, data) : "no-dma";
      if (status === "ok") {
        if (this.state === "stopped") this.counters.dmaWhileStopped++;
        if (p2p) {
          this.counters.p2pInitiated++;
          if (this.state !== "running") this.counters.p2pWhileQuiesced++;
        }
      }
    }
    this.record({ op: "write", iova, length: data.length, p2p, status });
    return status;
  }

  protected dmaRead(iova: number, length: number): { status: DeviceDmaStatus; data: Uint8Array } {
    const data = new Uint8Array(length);
    const refused = this.gate(false);
    let status: DeviceDmaStatus;
    if (refused) {
      this.counters.dmaRefused++;
      status = refused;
    } else {
      const port = this.ensurePort();
      status = port ? port.readInto(iova, data) : "no-dma";
      if (status === "ok" && this.state === "stopped") this.counters.dmaWhileStopped++;
    }
    this.record({ op: "read", iova, length, p2p: false, status });
    return { status, data };
  }
}
