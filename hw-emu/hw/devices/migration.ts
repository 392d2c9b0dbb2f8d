/**
 * The device side of live migration: what a migratable device model offers
 * to the emulated kernel's variant drivers. It speaks in hardware verbs
 * (quiesce peer-to-peer, stop, run, save, load), not in VFIO states; the
 * kernel maps each v2 arc onto these verbs (see hw-emu/hw/README.md).
 *
 * Run states:
 * - "running":     DMA, peer-to-peer, interrupts, internal state advances;
 * - "running-p2p": as running, but initiates no new peer-to-peer DMA;
 *                  still accepts incoming MMIO from peers;
 * - "stopped":     no DMA, no interrupts (they stay pending), internal state
 *                  frozen; config space and MSI-X still answer; incoming
 *                  peer writes are refused.
 */
import type { PciFunction } from "../pci/function.js";

export interface MigrationFeatures {
  /** always true for a migratable device: STOP, RUNNING, STOP_COPY, RESUMING */
  stopCopy: true;
  /** RUNNING_P2P (and PRE_COPY_P2P with preCopy) */
  p2p: boolean;
  /** PRE_COPY: state can be streamed while running */
  preCopy: boolean;
  /** device-side DMA write logging */
  dmaLogging: boolean;
}

export type RunState = "running" | "running-p2p" | "stopped";

/** "failed": an arc failed and the device could not return to a valid state; only reset() helps. */
export type DeviceHealth = "ok" | "failed";

export type MigrationErrorCode =
  | "invalid-state" // verb not allowed in the current run state / session state
  | "unsupported" // feature not offered by this device
  | "device-failed" // the device is in its failed state (reset required)
  | "arc-failed" // the verb itself failed
  | "session-closed" // stream used after its session ended
  | "too-big" // resume data beyond the device's maximum
  | "bad-header" // resume stream header rejected
  | "incompatible" // stream from a device this one cannot load (size, queues, version)
  | "corrupt" // stream content failed validation
  | "incomplete"; // finish() before the whole state arrived

/** A refusal from the device; `code` lets the kernel layer choose the errno. */
export class DeviceMigrationError extends Error {
  override name = "DeviceMigrationError";
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A save session. Pre-copy sessions first deliver the "initial" bytes, then
 * whatever became dirty while the device kept running; `finishPreCopy()`
 * (device stopped) turns the session into stop-copy, which appends the rest
 * of the state. A stop-copy session ends with an empty read (end of stream).
 */
export interface SaveStream {
  readonly mode: "pre-copy" | "stop-copy";
  readonly closed: boolean;
  /**
   * Up to `max` bytes. An empty result means: in stop-copy, the end of the
   * stream (permanent); in pre-copy, nothing available right now (temporary).
   */
  read(max: number): Uint8Array;
  /** pre-copy: initial bytes not read yet (only decreases) */
  initialBytes(): number;
  /** pre-copy: bytes of state that changed after being read */
  dirtyBytes(): number;
  /** bytes still to come in stop-copy mode from this point (estimate in pre-copy) */
  remainingBytes(): number;
  /** pre-copy -> stop-copy on the same stream; the device must be stopped */
  finishPreCopy(): void;
  /** stop-copy and everything read */
  readonly complete: boolean;
  /** end the session; later reads throw "session-closed" */
  close(): void;
}

/** A resume session: bytes in any segmentation, validated on the fly and at finish(). */
export interface ResumeStream {
  readonly closed: boolean;
  readonly bytesWritten: number;
  /** consumes all of `bytes` or throws (too-big, bad-header, incompatible, corrupt) */
  write(bytes: Uint8Array): number;
  /** checks that a complete, valid state arrived and loads it into the device */
  finish(): void;
  close(): void;
}

export interface DmaLogRange {
  iova: number;
  length: number;
}

export type DmaLogErrorCode = "busy" | "inactive" | "invalid" | "too-many-ranges";

export class DmaLogError extends Error {
  override name = "DmaLogError";
  constructor(
    readonly code: DmaLogErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Device-side DMA write logging (what DMA_LOGGING_START/STOP/REPORT drive). */
export interface DeviceDmaLog {
  readonly active: boolean;
  /** granularity chosen at start (bytes) */
  readonly pageSize: number;
  /** tracked ranges (possibly condensed from what was asked) */
  readonly ranges: readonly DmaLogRange[];
  /** starts logging writes inside `ranges`; returns the page size the device chose */
  start(ranges: readonly DmaLogRange[], pageSize: number): number;
  stop(): void;
  /**
   * Report and clear: sets bit n (word n >> 5, bit n & 31) of `bitmap` for
   * every `pageSize` page `iova + n * pageSize` in [iova, iova + length) the
   * device wrote since the last report. Bits are only ever set.
   */
  report(iova: number, length: number, pageSize: number, bitmap: Uint32Array): void;
}

/**
 * Knobs that make a model break a rule; only the faulty wrapper (and tests)
 * should touch them. All default to false.
 */
export interface FaultControls {
  /** keep processing queued work, with DMA, while stopped */
  dmaWhileStopped: boolean;
  /** keep initiating peer-to-peer DMA while P2P-quiesced */
  p2pWhileQuiesced: boolean;
  /** refuse peers' writes into the device's BARs while P2P-quiesced */
  refusePeerWritesWhileQuiesced: boolean;
  /** number of upcoming logged DMA writes whose pages are not recorded */
  dirtyLogSkips: number;
}

export function noFaults(): FaultControls {
  return { dmaWhileStopped: false, p2pWhileQuiesced: false, refusePeerWritesWhileQuiesced: false, dirtyLogSkips: 0 };
}

export interface MigratableDevice {
  /** "nic-vf", "accel-vf", "serial-mdev", or a wrapper's kind */
  readonly kind: string;
  readonly name: string;
  readonly fn: PciFunction;
  readonly features: MigrationFeatures;
  /**
   * How the driver this model imitates reports a temporary end of pre-copy
   * data: "enomsg" (the uAPI's rule, mlx5) or "zero" (a 0-byte read, as mtty
   * and hisi_acc do). The device itself just returns no bytes.
   */
  readonly preCopyEmptyRead: "enomsg" | "zero";
  readonly runState: RunState;
  readonly health: DeviceHealth;
  /** RUNNING: full operation (resumes anything queued while stopped or quiesced) */
  run(): void;
  /** RUNNING_P2P: stop initiating peer-to-peer, finish outstanding P2P; needs features.p2p */
  quiesceP2P(): void;
  /** STOP: no DMA, no interrupts, internal state frozen */
  stop(): void;
  /**
   * Opens a save session: preCopy=true while running (features.preCopy),
   * preCopy=false while stopped (stop-copy). Closes any earlier session.
   */
  startSave(opts: { preCopy: boolean }): SaveStream;
  /** Opens a resume session (device stopped); the internal state is replaced at finish(). */
  startResume(): ResumeStream;
  /** the session currently open, if any */
  readonly session: SaveStream | ResumeStream | null;
  /** estimated stop-copy length in bytes (MIG_DATA_SIZE) */
  stopCopyLength(): number;
  /** internal state snapshot (registers, queues, bulk state) */
  save(): Uint8Array;
  /** restores a snapshot from save() of an identically configured device */
  load(bytes: Uint8Array): void;
  /** device reset (FLR or VFIO_DEVICE_RESET): reset state, running, sessions closed, health ok */
  reset(): void;
  readonly dmaLog: DeviceDmaLog | null;
  readonly faults: FaultControls;
  /** marks the device failed (used by the faulty wrapper's failed arcs) */
  enterFailedState(detail: string): void;
  /** a plain summary of internal state for lab displays */
  describe(): Record<string, unknown>;
}
