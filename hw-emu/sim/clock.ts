/**
 * Discrete-event clock in simulated nanoseconds.
 *
 * Time is a plain `number` of nanoseconds since the simulation started. Numbers are
 * exact integers up to 2^53 ns (about 104 days of simulated time), which is far beyond
 * any migration scenario, and they keep the hot paths free of BigInt.
 *
 * Events run in time order; events scheduled for the same instant run in the order they
 * were scheduled, so a run is fully determined by what was scheduled.
 */

/** Anything that can tell the current simulated time (the hardware models only need this). */
export interface TimeSource {
  /** current simulated time in nanoseconds */
  readonly now: number;
}

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;

/** One entry of the optional event log: when an event ran and its label. */
export interface ClockLogEntry {
  time: number;
  seq: number;
  label: string;
}

/** A scheduled event; `cancel()` removes it if it has not run yet. */
export interface ScheduledEvent {
  readonly time: number;
  readonly seq: number;
  readonly label: string;
  cancel(): void;
  readonly cancelled: boolean;
}

class Event implements ScheduledEvent {
  cancelled = false;
  constructor(
    readonly time: number,
    readonly seq: number,
    readonly label: string,
    readonly fn: () => void,
    private readonly onCancel: () => void,
  ) {}
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.onCancel();
  }
}

function before(a: Event, b: Event): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

function checkTime(t: number, what: string): void {
  if (!Number.isSafeInteger(t) || t < 0) throw new RangeError(`${what} must be a non-negative integer number of ns, got ${t}`);
}

export interface ClockOptions {
  /** keep a log of every event that runs (time, sequence number, label) */
  log?: boolean;
  /** start time in ns (default 0) */
  start?: number;
}

export class Clock implements TimeSource {
  private current: number;
  private seq = 0;
  private readonly heap: Event[] = [];
  private live = 0;
  private executing = false;
  /** events that ran, when constructed with `{ log: true }` */
  readonly log: ClockLogEntry[] | null;

  constructor(options: ClockOptions = {}) {
    const start = options.start ?? 0;
    checkTime(start, "start");
    this.current = start;
    this.log = options.log ? [] : null;
  }

  get now(): number {
    return this.current;
  }

  /** number of scheduled events that have not run and are not cancelled */
  get pending(): number {
    return this.live;
  }

  /** time of the next event, or undefined when nothing is scheduled */
  get nextTime(): number | undefined {
    this.dropCancelled();
    return this.heap.length > 0 ? this.heap[0]!.time : undefined;
  }

  /** Schedule `fn` at absolute time `at` (>= now). */
  at(at: number, fn: () => void, label = ""): ScheduledEvent {
    checkTime(at, "event time");
    if (at < this.current) throw new RangeError(`cannot schedule in the past: ${at} < now ${this.current}`);
    // cancelled events stay in the heap until they reach the top; `live` keeps `pending` exact
    const ev = new Event(at, this.seq++, label, fn, () => this.live--);
    this.push(ev);
    this.live++;
    return ev;
  }

  /** Schedule `fn` after `delay` ns from now. */
  after(delay: number, fn: () => void, label = ""): ScheduledEvent {
    checkTime(delay, "delay");
    return this.at(this.current + delay, fn, label);
  }

  /** Run the next event (advancing time to it). Returns false when nothing is scheduled. */
  step(): boolean {
    this.checkNotRunning();
    this.dropCancelled();
    const ev = this.pop();
    if (!ev) return false;
    this.fire(ev);
    return true;
  }

  /** Run every event with time <= `t`, then set the time to `t`. */
  runUntil(t: number): void {
    checkTime(t, "time");
    if (t < this.current) throw new RangeError(`cannot run backwards: ${t} < now ${this.current}`);
    this.checkNotRunning();
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (!top || top.time > t) break;
      this.fire(this.pop()!);
    }
    this.current = t;
  }

  /** Run events for `dt` ns of simulated time. */
  advance(dt: number): void {
    checkTime(dt, "dt");
    this.runUntil(this.current + dt);
  }

  /**
   * Run until nothing is scheduled. Throws after `maxEvents` events, because a workload
   * that reschedules itself forever would otherwise never return.
   */
  runAll(maxEvents = 10_000_000): number {
    let n = 0;
    while (this.step()) {
      if (++n >= maxEvents && this.live > 0) throw new Error(`clock.runAll: still busy after ${maxEvents} events`);
    }
    return n;
  }

  private checkNotRunning(): void {
    // an event handler that runs the clock would run later events before it returns
    if (this.executing) throw new Error("clock: an event handler tried to run the clock re-entrantly");
  }

  private fire(ev: Event): void {
    this.live--;
    ev.cancelled = true; // a ran event can no longer be cancelled
    this.current = ev.time;
    this.log?.push({ time: ev.time, seq: ev.seq, label: ev.label });
    this.executing = true;
    try {
      ev.fn();
    } finally {
      this.executing = false;
    }
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private push(ev: Event): void {
    const h = this.heap;
    let i = h.length;
    h.push(ev);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(ev, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = ev;
  }

  private pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(h[r]!, h[l]!) ? r : l;
        if (!before(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
