/**
 * Input shapes for the display helpers, as plain objects; nothing here depends on
 * how they were computed. The migration timeline and dirty heat map shapes belong to
 * the orchestrator that produces them (vmm/timeline-shapes.ts) and are re-exported here.
 *
 * Times are simulated nanoseconds as plain numbers (exact up to 2^53 ns, the
 * same convention as hw-emu/sim/clock.ts).
 */

export type { DirtyPages, DirtySync, DirtyHeatmapInput, MigrationPhase, MigrationIteration, MigrationTimeline } from "../vmm/timeline-shapes.js";

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

export interface DirtyHeatmapOptions {
  /** most IOVA buckets along the x axis (default 128); pages are grouped so the whole range fits */
  maxBuckets?: number;
  title?: string;
  /** chart width in pixels (default 560) */
  width?: number;
  /** include the text/html fallback (default true) */
  html?: boolean;
}

export interface MigrationTimelineOptions {
  title?: string;
  /** chart width in pixels (default 560) */
  width?: number;
  /** include the text/html fallback (default true) */
  html?: boolean;
}
