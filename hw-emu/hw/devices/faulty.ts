/**
 * A wrapper that makes any device model break one migration rule on
 * request, so conformance checks and notebooks can show what each rule
 * protects:
 * - "dma-after-stop":         keeps processing queued work, with DMA, after stop();
 * - "p2p-during-running-p2p": keeps initiating peer-to-peer writes while P2P-quiesced;
 * - "p2p-refused-in-running-p2p": refuses its peers' writes into its BARs while P2P-quiesced;
 * - "short-stream":           the save stream ends early (its last bytes never come);
 * - "corrupt-stream":         one byte of the save stream is flipped;
 * - "arc-fails-to-error":     a chosen verb fails and leaves the device failed
 *                             (the kernel reports ERROR; only reset recovers);
 * - "dirty-page-not-logged":  the first DMA write after logging starts is not logged.
 * Everything else is passed through to the wrapped model.
 */
import type { DeviceCounters, DeviceModel, DeviceTraits } from "./device-base.js";
import {
  DeviceMigrationError,
  type DeviceDmaLog,
  type DmaLogRange,
  type MigratableDevice,
  type ResumeStream,
  type SaveStream,
} from "./migration.js";

export const FAULT_RULES = [
  "dma-after-stop",
  "p2p-during-running-p2p",
  "p2p-refused-in-running-p2p",
  "short-stream",
  "corrupt-stream",
  "arc-fails-to-error",
  "dirty-page-not-logged",
] as const;

export type FaultRule = (typeof FAULT_RULES)[number];

/** Device verbs an "arc-fails-to-error" fault can target. */
export const FAULT_ARCS = ["run", "quiesceP2P", "stop", "startSave", "finishPreCopy", "startResume", "finishResume"] as const;
export type FaultArc = (typeof FAULT_ARCS)[number];

export interface FaultyOptions {
  /** for "arc-fails-to-error": which verb fails (default "stop") */
  arc?: FaultArc;
  /** for "arc-fails-to-error": fail every time, not only the first (default false) */
  repeat?: boolean;
  /** for "short-stream": bytes withheld from the end of the stream (default 16) */
  shortBy?: number;
  /** for "corrupt-stream": stream offset of the flipped byte (default: the middle of the stop-copy length) */
  corruptAt?: number;
}

/** Whether a rule can be broken by this device at all (a device without DMA cannot DMA after stop). */
export function faultApplies(rule: FaultRule, device: { features: MigratableDevice["features"]; traits: DeviceTraits }): boolean {
  switch (rule) {
    case "dma-after-stop":
      return device.traits.dma;
    case "p2p-during-running-p2p":
      return device.features.p2p && device.traits.p2pInitiator;
    case "p2p-refused-in-running-p2p":
      return device.features.p2p && device.traits.p2pTarget;
    case "dirty-page-not-logged":
      return device.features.dmaLogging && device.traits.dma;
    case "arc-fails-to-error":
    case "short-stream":
    case "corrupt-stream":
      return true;
  }
}

/** What a device lacks when it cannot break a rule, for the refusal's message. */
const MISSING: Readonly<Record<FaultRule, string>> = {
  "dma-after-stop": "DMA",
  "p2p-during-running-p2p": "P2P initiation",
  "p2p-refused-in-running-p2p": "P2P support with a BAR its peers write into",
  "short-stream": "save stream",
  "corrupt-stream": "save stream",
  "arc-fails-to-error": "migration arcs",
  "dirty-page-not-logged": "DMA logging",
};

/** The rules `device` can be made to break. */
export function applicableFaults(device: { features: MigratableDevice["features"]; traits: DeviceTraits }): FaultRule[] {
  return FAULT_RULES.filter((r) => faultApplies(r, device));
}

export class FaultyDevice<D extends DeviceModel = DeviceModel> implements MigratableDevice {
  readonly kind: string;
  readonly name: string;
  private armed = true;
  private readonly logProxy: DeviceDmaLog | null;

  constructor(
    readonly inner: D,
    readonly rule: FaultRule,
    readonly options: FaultyOptions = {},
  ) {
    if (!(FAULT_RULES as readonly string[]).includes(rule)) throw new RangeError(`unknown fault rule ${rule}`);
    if (!faultApplies(rule, inner)) throw new Error(`${inner.kind} cannot break "${rule}" (it has no ${MISSING[rule]})`);
    if (options.arc !== undefined && !(FAULT_ARCS as readonly string[]).includes(options.arc)) throw new RangeError(`unknown arc ${options.arc}`);
    this.kind = `faulty:${inner.kind}`;
    this.name = `${inner.name} (faulty: ${rule})`;
    if (rule === "dma-after-stop") inner.faults.dmaWhileStopped = true;
    if (rule === "p2p-during-running-p2p") inner.faults.p2pWhileQuiesced = true;
    if (rule === "p2p-refused-in-running-p2p") inner.faults.refusePeerWritesWhileQuiesced = true;
    this.logProxy = inner.dmaLog ? this.makeLogProxy(inner.dmaLog) : null;
  }

  get fn() {
    return this.inner.fn;
  }
  get features() {
    return this.inner.features;
  }
  get preCopyEmptyRead() {
    return this.inner.preCopyEmptyRead;
  }
  get traits(): DeviceTraits {
    return this.inner.traits;
  }
  get runState() {
    return this.inner.runState;
  }
  get health() {
    return this.inner.health;
  }
  get faults() {
    return this.inner.faults;
  }
  get counters(): DeviceCounters {
    return this.inner.counters;
  }
  get dmaLog(): DeviceDmaLog | null {
    return this.logProxy;
  }
  get session(): SaveStream | ResumeStream | null {
    return this.inner.session;
  }

  /** Throws (and fails the device) when `arc` is the targeted verb. */
  private maybeFail(arc: FaultArc): void {
    if (this.rule !== "arc-fails-to-error" || !this.armed) return;
    if ((this.options.arc ?? "stop") !== arc) return;
    if (!this.options.repeat) this.armed = false;
    const detail = `injected failure of ${arc}`;
    this.inner.enterFailedState(detail);
    throw new DeviceMigrationError("arc-failed", `${this.inner.name}: ${detail}`);
  }

  run(): void {
    this.maybeFail("run");
    this.inner.run();
  }

  quiesceP2P(): void {
    this.maybeFail("quiesceP2P");
    this.inner.quiesceP2P();
  }

  stop(): void {
    this.maybeFail("stop");
    this.inner.stop();
  }

  startSave(opts: { preCopy: boolean }): SaveStream {
    this.maybeFail("startSave");
    const s = this.inner.startSave(opts);
    const wrapped = new FaultyStream(this, s);
    return wrapped;
  }

  startResume(): ResumeStream {
    this.maybeFail("startResume");
    const r = this.inner.startResume();
    return {
      get closed() {
        return r.closed;
      },
      get bytesWritten() {
        return r.bytesWritten;
      },
      write: (b) => r.write(b),
      finish: () => {
        this.maybeFail("finishResume");
        r.finish();
      },
      close: () => r.close(),
    };
  }

  /** @internal used by the stream wrapper */
  failFinishPreCopy(): void {
    this.maybeFail("finishPreCopy");
  }

  stopCopyLength(): number {
    return this.inner.stopCopyLength();
  }

  save(): Uint8Array {
    return this.inner.save();
  }

  load(bytes: Uint8Array): void {
    this.inner.load(bytes);
  }

  reset(): void {
    this.inner.reset();
  }

  enterFailedState(detail: string): void {
    this.inner.enterFailedState(detail);
  }

  describe(): Record<string, unknown> {
    return { ...this.inner.describe(), fault: this.rule };
  }

  private makeLogProxy(log: DeviceDmaLog): DeviceDmaLog {
    const inner = this.inner;
    const rule = this.rule;
    return {
      get active() {
        return log.active;
      },
      get pageSize() {
        return log.pageSize;
      },
      get ranges() {
        return log.ranges;
      },
      start(ranges: readonly DmaLogRange[], pageSize: number): number {
        const chosen = log.start(ranges, pageSize);
        if (rule === "dirty-page-not-logged") inner.faults.dirtyLogSkips = 1;
        return chosen;
      },
      stop: () => log.stop(),
      report: (iova, length, pageSize, bitmap) => log.report(iova, length, pageSize, bitmap),
    };
  }
}

/** Save stream wrapper: withholds the tail (short-stream) or flips a byte (corrupt-stream). */
class FaultyStream implements SaveStream {
  private held = new Uint8Array(0);
  private offset = 0;
  private readonly corruptAt: number;
  private readonly shortBy: number;

  constructor(
    private readonly dev: FaultyDevice,
    private readonly s: SaveStream,
  ) {
    this.shortBy = dev.rule === "short-stream" ? Math.max(1, dev.options.shortBy ?? 16) : 0;
    this.corruptAt = dev.rule === "corrupt-stream" ? (dev.options.corruptAt ?? Math.floor(dev.stopCopyLength() / 2)) : -1;
  }

  get mode() {
    return this.s.mode;
  }
  get closed() {
    return this.s.closed;
  }
  get complete() {
    return this.s.complete && (this.shortBy === 0 || this.held.length <= this.shortBy);
  }

  read(max: number): Uint8Array {
    let out: Uint8Array;
    if (this.shortBy === 0) {
      out = this.s.read(max);
    } else {
      // Keep the last `shortBy` bytes back; at the end of the stream they are dropped.
      const more = this.s.read(max);
      const all = new Uint8Array(this.held.length + more.length);
      all.set(this.held, 0);
      all.set(more, this.held.length);
      const give = Math.max(0, all.length - this.shortBy);
      out = all.slice(0, Math.min(give, max));
      this.held = all.slice(out.length);
    }
    if (this.corruptAt >= this.offset && this.corruptAt < this.offset + out.length) {
      out[this.corruptAt - this.offset] = out[this.corruptAt - this.offset]! ^ 0xa5;
    }
    this.offset += out.length;
    return out;
  }

  initialBytes(): number {
    return this.s.initialBytes();
  }
  dirtyBytes(): number {
    return this.s.dirtyBytes();
  }
  remainingBytes(): number {
    return this.s.remainingBytes();
  }
  finishPreCopy(): void {
    this.dev.failFinishPreCopy();
    this.s.finishPreCopy();
  }
  close(): void {
    this.s.close();
  }
}
