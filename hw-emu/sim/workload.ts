/**
 * Common parts of workload generators: a start/stop life cycle on the clock, and address
 * pickers with a locality (where in a region the next access goes). Workloads only call the
 * callbacks they are given; they know nothing about devices or memory.
 */
import type { Clock, ScheduledEvent } from "./clock.js";
import type { Random } from "./random.js";

/** A range of addresses (IOVA or guest physical, as the workload's user decides). */
export interface Region {
  base: number;
  length: number;
}

/**
 * Where accesses land inside a region, in units of the access size:
 * - uniform: every slot equally likely;
 * - sequential: slot after slot, wrapping at the end (streaming, ring buffers);
 * - hot-set: with probability `hotProbability` (default 0.9) a slot from the first
 *   `hotFraction` (default 0.1) of the region, otherwise any slot (skewed working sets).
 */
export type Locality =
  | { kind: "uniform" }
  | { kind: "sequential" }
  | { kind: "hot-set"; hotFraction?: number; hotProbability?: number };

/** Picks slot-aligned addresses in a region according to a locality. */
export class AddressPicker {
  private readonly slots: number;
  private readonly hotSlots: number;
  private readonly hotProbability: number;
  private cursor = 0;

  constructor(
    private readonly region: Region,
    private readonly slotSize: number,
    private readonly locality: Locality,
    private readonly rng: Random,
  ) {
    if (!Number.isSafeInteger(slotSize) || slotSize <= 0) throw new RangeError(`slot size must be a positive integer, got ${slotSize}`);
    this.slots = Math.floor(region.length / slotSize);
    if (this.slots < 1) throw new RangeError(`region of ${region.length} bytes holds no slot of ${slotSize} bytes`);
    if (locality.kind === "hot-set") {
      const f = locality.hotFraction ?? 0.1;
      const p = locality.hotProbability ?? 0.9;
      if (!(f > 0 && f <= 1) || !(p >= 0 && p <= 1)) throw new RangeError("hot-set: hotFraction in (0,1], hotProbability in [0,1]");
      this.hotSlots = Math.max(1, Math.floor(this.slots * f));
      this.hotProbability = p;
    } else {
      this.hotSlots = this.slots;
      this.hotProbability = 0;
    }
  }

  /** number of distinct slots the picker can return */
  get slotCount(): number {
    return this.slots;
  }

  next(): number {
    let slot: number;
    switch (this.locality.kind) {
      case "sequential":
        slot = this.cursor;
        this.cursor = (this.cursor + 1) % this.slots;
        break;
      case "uniform":
        slot = this.rng.int(0, this.slots - 1);
        break;
      case "hot-set":
        slot = this.rng.float() < this.hotProbability ? this.rng.int(0, this.hotSlots - 1) : this.rng.int(0, this.slots - 1);
        break;
    }
    return this.region.base + slot * this.slotSize;
  }
}

export interface WorkloadStats {
  /** operations issued */
  ops: number;
  /** bytes moved */
  bytes: number;
}

/**
 * A workload that runs as a chain of clock events: each event does some work and schedules
 * the next one. `stop()` cancels the pending event, so nothing happens after it.
 */
export abstract class Workload {
  readonly stats: WorkloadStats = { ops: 0, bytes: 0 };
  private pending: ScheduledEvent | null = null;
  private active = false;

  constructor(
    protected readonly clock: Clock,
    readonly name: string,
  ) {}

  get running(): boolean {
    return this.active;
  }

  /** Start now, or after `delay` ns. Starting a running workload is an error. */
  start(delay = 0): void {
    if (this.active) throw new Error(`workload ${this.name} is already running`);
    this.active = true;
    this.due = this.clock.now;
    this.schedule(delay);
  }

  /** Stop; also safe from inside a callback the workload is running. */
  stop(): void {
    this.active = false;
    this.pending?.cancel();
    this.pending = null;
  }

  /** do one step of work and return the delay in ns (may be fractional) until the next step */
  protected abstract tick(): number;

  // the exact (fractional) due time is kept so rounding to whole ns never drifts the rate
  private due = 0;

  private schedule(delay: number): void {
    this.due += Math.max(0, delay);
    const at = Math.max(this.clock.now, Math.round(this.due));
    this.pending = this.clock.at(
      at,
      () => {
        this.pending = null;
        const next = this.tick();
        if (this.active) this.schedule(next);
      },
      this.name,
    );
  }
}
