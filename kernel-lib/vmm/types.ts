/**
 * The shapes a notebook cell passes to `new SimulatedVm(...)` and `migrate(...)`,
 * and the report it gets back. Times are simulated nanoseconds; sizes are bytes.
 */
import type { lab } from "../backends/emu.js";
import type { MigStateName } from "../../hw-emu/uapi/index.js";
import type { Locality } from "../../hw-emu/sim/workload.js";
import type { DirtyHeatmapInput, MigrationTimeline } from "./timeline-shapes.js";
import type { MigrationCosts } from "./costs.js";
import type { IommuBackend, VmmHost } from "./host.js";

export type { IommuBackend };

/** One passthrough device of the simulated VM. */
export interface VmDeviceConfig {
  model: "nic" | "accel";
  name?: string;
  /** nic: queue pairs (default 2; the second carries the guest's peer doorbells) */
  queues?: number;
  /** nic: bytes of device state (default 1 MiB) */
  stateSize?: number;
  /** offer PRE_COPY (default true) */
  preCopy?: boolean;
  /** break one migration rule (one of lab.FAULT_RULES) */
  faulty?: lab.FaultRule;
  faultyOptions?: lab.FaultyOptions;
  /** which machine's device breaks the rule (default "source") */
  faultyOn?: "source" | "destination" | "both";
  /** interrupt vectors the guest keeps masked in its MSI-X table */
  maskedVectors?: readonly number[];
}

/** What the guest does while it runs. Rates are per simulated second. */
export interface GuestWorkloadConfig {
  /** guest CPU page writes per second (default 20 000) */
  pagesPerSecond?: number;
  /** bytes of guest RAM the CPU writes into, after the driver area (default: a quarter of RAM, at most 1 GiB) */
  workingSet?: number;
  /** where the CPU writes land in the working set (default uniform) */
  locality?: Locality;
  /** packets arriving from the wire per second, per NIC (default 2000) */
  packetsPerSecond?: number;
  /** NIC internal state pages changed per packet (default 1) */
  churnPages?: number;
  /** peer-to-peer doorbells per second from each NIC to each other NIC (default 0) */
  p2pPerSecond?: number;
  /** accelerator jobs per second, per accelerator (default 500) */
  jobsPerSecond?: number;
  /** period of the guest driver loop: interrupt handling, RX refill, job submission (default 1 ms) */
  tickNs?: number;
  /** time a posted doorbell write takes to reach the device and be acted on (default 20 µs) */
  doorbellLatencyNs?: number;
}

export interface SimulatedVmOptions {
  /** guest RAM: bytes (a multiple of 4096) or a string such as "4GiB", "512 MiB", "1TiB" */
  memory: number | string;
  devices?: readonly VmDeviceConfig[];
  /** seed of every random choice (default 1) */
  seed?: number;
  /** IOMMU backend of the VMM; by default chosen at boot (iommufd unless a migration asks for type1) */
  iommu?: IommuBackend;
  /** whether the hosts' IOMMUs track dirty pages (default true) */
  iommuDirtyTracking?: boolean;
  workload?: GuestWorkloadConfig;
  name?: string;
}

/** Phases of a migration, in order. "cleanup" runs after the destination took over. */
export type PhaseName = "setup" | "pre-copy" | "quiesce" | "stop-copy" | "resume" | "irq-restore" | "run" | "cleanup";

/** Where an abort can be injected: every phase up to the destination taking over. */
export type AbortPhase = Exclude<PhaseName, "cleanup">;

/**
 * An injected abort: at the start of a phase, or (pre-copy) at the start of round
 * `iteration`, or (device steps) just before the VMM acts on device `device`.
 */
export type AbortPoint = AbortPhase | { phase: AbortPhase; iteration?: number; device?: number };

export type TrackingMode = "iommufd" | "type1" | "device-log" | "merged";
export type StopMode = "p2p-first" | "one-step";

/** Named instants of a migration, for observers (tests, notebooks). */
export interface MigrationHookContext {
  timeNs: number;
  phase: PhaseName;
  source: VmmHost;
  /** null when the destination was not set up yet */
  destination: VmmHost | null;
}

export interface MigrationHooks {
  /** the source is fully stopped and everything was sent; nothing on the source changes the destination after this */
  switchover?(ctx: MigrationHookContext): void;
  /** destination devices validated their state (RESUMING -> STOP), before config and interrupts are restored */
  destinationLoaded?(ctx: MigrationHookContext): void;
  /** the migration failed; called before the source is recovered */
  aborted?(ctx: MigrationHookContext & { error: string }): void;
}

/**
 * QEMU's auto-converge capability: when the guest dirties memory faster than pre-copy
 * sends it, throttle the vCPUs step by step. The defaults are QEMU's
 * (migration/options.c: DEFAULT_MIGRATE_CPU_THROTTLE_INITIAL, _INCREMENT,
 * DEFAULT_MIGRATE_MAX_CPU_THROTTLE, DEFAULT_MIGRATE_THROTTLE_TRIGGER_THRESHOLD).
 */
export interface AutoConvergeOptions {
  /** cpu-throttle-initial: the first step, in percent (default 20) */
  initialPct?: number;
  /** cpu-throttle-increment: each further step, in percent (default 10) */
  incrementPct?: number;
  /** max-cpu-throttle, in percent (default 99) */
  maxPct?: number;
  /** throttle-trigger-threshold: a period counts as not converging when it dirtied more than this percentage of the bytes it sent (default 50) */
  triggerThresholdPct?: number;
}

/** One step of the vCPU throttle during pre-copy. */
export interface ThrottleStep {
  /** the pre-copy round whose sync decided it */
  round: number;
  timeNs: number;
  /** the throttle from then on, in percent */
  pct: number;
}

export interface MigrateOptions {
  /** link bandwidth in bytes per second (default 10 Gb/s = 1.25e9) */
  bandwidth?: number;
  /** downtime limit (default 300 ms, QEMU's default) */
  downtimeLimitMs?: number;
  /** dirty tracking (default "iommufd", or "type1" on a VM booted with type1) */
  tracking?: TrackingMode;
  /** how devices are stopped (default "p2p-first") */
  stop?: StopMode;
  /**
   * Refuse to migrate more than one device unless every one offers VFIO_MIGRATION_P2P,
   * as QEMU does from 8.2 (vfio_multiple_devices_migration_is_supported()); a single
   * device migrates either way (default false: a device without P2P is then stopped
   * in its turn with no quiesce step, and peer writes into it are not protected)
   */
  requireP2pForMultipleDevices?: boolean;
  abortAt?: AbortPoint;
  /** wait for every pre-copy device's initial bytes before switching over (default true) */
  switchoverAck?: boolean;
  /** pre-copy rounds before giving up on convergence (default 30) */
  maxIterations?: number;
  /** when pre-copy does not converge: switch over anyway (default) or abort */
  onNoConvergence?: "switchover" | "abort";
  /** throttle the vCPUs when pre-copy makes no progress, as QEMU's auto-converge does (default off, as in QEMU) */
  autoConverge?: boolean | AutoConvergeOptions;
  /** carry interrupts pending at the stop to the destination (default true) */
  carryPendingInterrupts?: boolean;
  /** after the final copy, check no page was written since (default true; type1 cannot tell) */
  verifyAfterStop?: boolean;
  /** on abort, stop the guest's and the wire's activity so the source memory can be compared */
  freezeWorkloadsOnAbort?: boolean;
  costs?: Partial<MigrationCosts>;
  hooks?: MigrationHooks;
}

/** One round of the orchestrator's loop, with more detail than the chart needs. */
export interface IterationReport {
  index: number;
  startNs: number;
  endNs: number;
  final: boolean;
  /** pages this round's sync found dirty (round 0: every page, the bulk copy) */
  dirtyPages: number;
  /** of those, pages sent with their content */
  dataPages: number;
  /** of those, pages sent as zero pages (a few bytes each) */
  zeroPages: number;
  ramBytes: number;
  deviceBytes: number;
  /** dirty pages each tracker reported in this round's sync (synced separately); "cpu" is the guest CPU log */
  perTracker: Record<string, number>;
  /**
   * What was left to send when the round was decided (bytes): for a pre-copy round,
   * more than the switchover threshold; for the final round, the estimate that let the
   * switchover happen (or what remained when the VMM gave up converging)
   */
  pendingBytes: number;
  /** the vCPU throttle (auto-converge) while the round ran, in percent */
  cpuThrottlePct: number;
}

export interface DeviceReport {
  name: string;
  model: string;
  preCopyBytes: number;
  stopCopyBytes: number;
  /** MIG_DATA_SIZE at setup */
  dataSize: number;
  /** migration states the source device walked, in order */
  sourcePath: string[];
  destinationPath: string[];
}

export interface InterruptReport {
  /** delivered to the guest while it ran on the source during the migration */
  onTime: number;
  /** raised while the guest was stopped and delivered after it resumed */
  late: number;
  /** raised by a source device and never delivered */
  lost: number;
  /** pending on vectors the guest had masked: kept pending, as the guest asked */
  maskedPending: number;
}

/**
 * Peer-to-peer writes that reached one device while it was in one migration state,
 * counted by the device model (a lab view: a posted write tells its sender nothing).
 */
export interface P2pArrivals {
  device: string;
  host: "source" | "destination";
  /** the device's migration state when the writes arrived */
  state: MigStateName;
  accepted: number;
  refused: number;
}

export interface MigrationResult {
  ok: boolean;
  error?: string;
  /** the phase in which the migration failed */
  failedIn?: PhaseName;
  /** "injected" when abortAt fired */
  abortKind?: "injected" | "error";
  timeline: MigrationTimeline;
  /** a dirty heat map of the rounds' syncs, coarse enough for a chart */
  heatmap: DirtyHeatmapInput;
  downtimeNs: number;
  downtimeLimitNs: number;
  totalNs: number;
  converged: boolean;
  /** bandwidth x downtime limit */
  thresholdBytes: number;
  /** the auto-converge throttle steps, in order (empty without autoConverge or when none was needed) */
  cpuThrottle: ThrottleStep[];
  iterations: IterationReport[];
  bytes: { ram: number; device: number; total: number };
  lostP2pWrites: { source: number; destination: number; total: number };
  /** every device/state pair that received peer writes, in the order they first did */
  p2pArrivals: P2pArrivals[];
  interrupts: InterruptReport;
  devices: DeviceReport[];
  tracking: TrackingMode;
  trackers: string[];
  stop: StopMode;
  bandwidth: number;
  /** things that went wrong without failing the migration (cleanup steps, device resets during recovery) */
  warnings: string[];
}
