/**
 * The deterministic record of interrupt activity shared by INTx, MSI and
 * MSI-X: every firing, what became of it (delivered, left pending, dropped)
 * and every later delivery of a pending vector, stamped with simulated time.
 */
import type { TimeSource } from "../../sim/clock.js";

export type InterruptKind = "intx" | "msi" | "msix";

/** What a consumer receives: the message the function wrote (or the INTx level change). */
export interface InterruptMessage {
  kind: InterruptKind;
  vector: number;
  /** MSI/MSI-X message address (0n for INTx) */
  address: bigint;
  /** MSI/MSI-X message data; for INTx 1 = asserted, 0 = deasserted */
  data: number;
  time: number;
}

/** Receives interrupts of one vector: the emulated kernel attaches its eventfd signalling here. */
export type InterruptConsumer = (msg: InterruptMessage) => void;

export type InterruptOutcome =
  | "delivered" // message written (consumer called if attached)
  | "pending" // masked or held: pending bit set
  | "dropped-disabled" // MSI / MSI-X not enabled, or INTx disabled in the command register
  | "dropped-bus-master" // bus master enable is off: the function cannot write the message
  | "dropped-vector"; // vector beyond what is enabled

export interface InterruptEvent {
  seq: number;
  time: number;
  source: string;
  kind: InterruptKind;
  vector: number;
  /** "fire" = the device raised it; "unmask" = a pending vector released by unmask/enable/release */
  cause: "fire" | "unmask" | "deassert";
  outcome: InterruptOutcome;
  /** whether a consumer was attached when delivered */
  consumed: boolean;
  address?: bigint;
  data?: number;
}

export class InterruptLog {
  private items: InterruptEvent[] = [];
  private seq = 0;
  private discarded = 0;

  /** `limit` bounds memory on long runs: the oldest entries are discarded (and counted). */
  constructor(
    private readonly time: TimeSource | null = null,
    private readonly limit = 100_000,
  ) {}

  now(): number {
    return this.time ? this.time.now : 0;
  }

  record(e: Omit<InterruptEvent, "seq" | "time">): InterruptEvent {
    const full: InterruptEvent = { seq: this.seq++, time: this.now(), ...e };
    this.items.push(full);
    // Trim in batches so a long run costs amortised O(1) per event.
    if (this.items.length >= 2 * this.limit) {
      this.discarded += this.items.length - this.limit;
      this.items = this.items.slice(-this.limit);
    }
    return full;
  }

  /** The most recent events (up to the limit), oldest first. */
  get entries(): readonly InterruptEvent[] {
    if (this.items.length > this.limit) {
      this.discarded += this.items.length - this.limit;
      this.items = this.items.slice(-this.limit);
    }
    return this.items;
  }

  /** entries discarded because of the size limit */
  get discardedCount(): number {
    return this.discarded;
  }

  deliveries(kind?: InterruptKind, vector?: number): InterruptEvent[] {
    return this.entries.filter(
      (e) => e.outcome === "delivered" && (kind === undefined || e.kind === kind) && (vector === undefined || e.vector === vector),
    );
  }

  clear(): void {
    this.items.length = 0;
  }
}
