/**
 * Input shapes for the display helpers. Producers (the emulated kernel's FSM
 * tables, the migration orchestrator, dirty-tracking code) build exactly these
 * plain objects; nothing here depends on how they were computed.
 *
 * Times are simulated nanoseconds as plain numbers (exact up to 2^53 ns, the
 * same convention as hw-emu/sim/clock.ts).
 */

/** A device migration capability flag that adds states and arcs to the v2 FSM. */
export type FsmFlag = "P2P" | "PRE_COPY";

/** One direct arc of the migration FSM, as a driver is asked to perform it. */
export interface FsmArc {
  from: string;
  to: string;
  /** the arc exists only when the device sets all of these flags (e.g. RUNNING -> RUNNING_P2P needs P2P) */
  requires: readonly FsmFlag[];
  /**
   * the arc exists only when the device sets none of these flags: the core routes
   * around it otherwise (RUNNING -> STOP is direct only without P2P; with P2P the
   * path goes through RUNNING_P2P). Optional; absent means no such condition.
   */
  unless?: readonly FsmFlag[];
}

/**
 * The migration state machine to draw. The caller passes the emulated kernel's
 * own tables (its list of states in enum order and its list of direct arcs), so
 * the picture shows what the kernel implements rather than a copy of it.
 */
export interface FsmDescription {
  states: readonly string[];
  arcs: readonly FsmArc[];
}

export interface FsmDiagramOptions {
  /** the device's migration flags (STOP_COPY is always assumed) */
  flags: { p2p: boolean; preCopy: boolean };
  /** a path to highlight, as the state sequence (e.g. the path finder's answer), first to last */
  path?: readonly string[];
  /** heading; defaults to one naming the flags */
  title?: string;
}

/**
 * The dirty pages one sync reported, in one of three forms:
 * - Uint32Array: bitmap words as the kernel writes them (little-endian u64 words
 *   read as u32 pairs): bit b of word w is page 32*w + b;
 * - Uint8Array: the same bitmap as raw bytes: bit b of byte i is page 8*i + b;
 * - number[]: indexes of dirty pages.
 * Page i covers IOVA base + i * pageSize.
 */
export type DirtyPages = Uint32Array | Uint8Array | readonly number[];

export interface DirtySync {
  /** simulated time of the sync (ns) */
  timeNs: number;
  dirty: DirtyPages;
  /** row label; defaults to the sync number and time */
  label?: string;
}

export interface DirtyHeatmapInput {
  /** IOVA of page 0 */
  iovaBase: number | bigint;
  /** bytes per bitmap bit (the tracking granularity), a power of two */
  pageSize: number;
  /** pages in the tracked range; defaults to what the largest bitmap or index implies */
  pages?: number;
  syncs: readonly DirtySync[];
}

export interface DirtyHeatmapOptions {
  /** most IOVA buckets along the x axis (default 128); pages are grouped so the whole range fits */
  maxBuckets?: number;
  title?: string;
  /** chart width in pixels (default 560) */
  width?: number;
  /** include the text/html fallback (default true) */
  html?: boolean;
}

/** A phase of a migration, as one bar of the Gantt chart. */
export interface MigrationPhase {
  /** e.g. "pre-copy", "quiesce", "stop-copy", "resume", "irq-restore" */
  name: string;
  startNs: number;
  endNs: number;
  /** the device the phase belongs to; phases without one share a "migration" row */
  device?: string;
}

/** One pre-copy (or the final stop-copy) round of the orchestrator's loop. */
export interface MigrationIteration {
  /** 0-based round number */
  index: number;
  startNs: number;
  endNs: number;
  /** bytes read from the devices' data fds and sent to the destination in this round */
  bytesSent: number;
  /** pages found dirty by this round's sync */
  dirtyPages: number;
}

/**
 * What the migration orchestrator (kernel-lib/vmm) reports about one migration,
 * drawn by migrationTimeline().
 */
export interface MigrationTimeline {
  phases: readonly MigrationPhase[];
  iterations: readonly MigrationIteration[];
  /** time the guest was stopped, from the last vCPU stop to the first resume (ns) */
  downtimeNs: number;
  /** peer-to-peer writes that arrived after the target device stopped accepting them */
  lostP2PWrites: number;
  /** interrupts raised while the guest was stopped, delivered once it ran again */
  lateInterrupts: number;
  /** interrupts a device raised that never reached the guest (shown when given) */
  lostInterrupts?: number;
}

export interface MigrationTimelineOptions {
  title?: string;
  /** chart width in pixels (default 560) */
  width?: number;
  /** include the text/html fallback (default true) */
  html?: boolean;
}
