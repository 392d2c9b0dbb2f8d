/**
 * What a migration reports for charts, in the shapes display/ draws: the timeline
 * (phases and rounds) and the dirty heat map of the rounds' syncs. The orchestrator
 * (timeline.ts) produces them; display/migration-timeline.ts and display/dirty-heatmap.ts
 * draw them, and a notebook may build them by hand from its own dirty bitmaps.
 *
 * Times are simulated nanoseconds as plain numbers (exact up to 2^53 ns, the
 * same convention as hw-emu/sim/clock.ts).
 */

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
