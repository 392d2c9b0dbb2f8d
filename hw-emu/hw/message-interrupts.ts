/**
 * What MSI and MSI-X delivery share: one consumer per vector, the device's hold (a stopped
 * device must not signal: while held, firings and unmasks only leave vectors pending), firing
 * a vector (delivered, left pending or dropped, each recorded in the interrupt log), and
 * delivering each pending, now-unmasked vector once when a mask clears or the hold ends.
 * The subclasses own where the state lives (config space for MSI, the BAR's table and PBA
 * for MSI-X).
 */
import type { PciFunction } from "./pci/function.js";
import type { InterruptConsumer, InterruptLog, InterruptOutcome } from "./pci/interrupt-log.js";

export abstract class MessageInterrupts {
  private readonly consumers: (InterruptConsumer | null)[];
  private held = false;

  constructor(
    protected readonly fn: PciFunction,
    private readonly kind: "msi" | "msix",
    readonly vectors: number,
    readonly log: InterruptLog,
  ) {
    this.consumers = new Array<InterruptConsumer | null>(vectors).fill(null);
  }

  abstract get enabled(): boolean;
  abstract vectorMasked(v: number): boolean;
  abstract pending(v: number): boolean;
  abstract message(v: number): { address: bigint; data: number };
  protected abstract setPending(v: number, on: boolean): void;

  /** A firing of v that is dropped although the capability is enabled (MSI: a vector beyond those granted). */
  protected dropOf(_v: number): InterruptOutcome | null {
    return null;
  }

  /** whether the whole function holds its vectors pending (MSI-X: Function Mask) */
  protected get functionMasked(): boolean {
    return false;
  }

  /** how many vectors, from 0, can be released (MSI: those granted) */
  protected get releasableVectors(): number {
    return this.vectors;
  }

  /** whether v waits for delivery (MSI without a Pending register keeps that internally) */
  protected waiting(v: number): boolean {
    return this.pending(v);
  }

  protected checkVector(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v >= this.vectors) throw new RangeError(`${this.kind === "msi" ? "MSI" : "MSI-X"} vector ${v} not in 0..${this.vectors - 1}`);
  }

  pendingVectors(): number[] {
    const out: number[] = [];
    for (let v = 0; v < this.vectors; v++) if (this.pending(v)) out.push(v);
    return out;
  }

  /** Attaches the receiver of vector v's messages (null detaches). */
  setConsumer(v: number, consumer: InterruptConsumer | null): void {
    this.checkVector(v);
    this.consumers[v] = consumer;
  }

  /** While held, nothing is delivered; firings and unmasks leave vectors pending. */
  setHeld(held: boolean): void {
    this.held = held;
    if (!held) this.releaseDeliverable();
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** The device raises vector v. */
  fire(v: number): InterruptOutcome {
    this.checkVector(v);
    const base = { source: this.fn.name, kind: this.kind, vector: v, cause: "fire" as const, consumed: false };
    if (!this.enabled) {
      this.log.record({ ...base, outcome: "dropped-disabled" });
      return "dropped-disabled";
    }
    const drop = this.dropOf(v);
    if (drop) {
      this.log.record({ ...base, outcome: drop });
      return drop;
    }
    if (this.functionMasked || this.vectorMasked(v) || this.held) {
      this.setPending(v, true);
      this.log.record({ ...base, outcome: "pending" });
      return "pending";
    }
    return this.deliver(v, "fire");
  }

  private deliver(v: number, cause: "fire" | "unmask"): InterruptOutcome {
    if (!this.fn.busMasterEnabled()) {
      this.log.record({ source: this.fn.name, kind: this.kind, vector: v, cause, outcome: "dropped-bus-master", consumed: false });
      return "dropped-bus-master";
    }
    const { address, data } = this.message(v);
    const consumer = this.consumers[v] ?? null;
    this.log.record({ source: this.fn.name, kind: this.kind, vector: v, cause, outcome: "delivered", consumed: consumer !== null, address, data });
    consumer?.({ kind: this.kind, vector: v, address, data, time: this.log.now() });
    return "delivered";
  }

  /** Delivers every waiting vector that is no longer masked, lowest first. */
  protected releaseDeliverable(): void {
    if (!this.enabled || this.functionMasked || this.held) return;
    for (let v = 0; v < this.releasableVectors; v++) {
      if (this.waiting(v) && !this.vectorMasked(v)) {
        this.setPending(v, false);
        this.deliver(v, "unmask");
      }
    }
  }

  /** whether a consumer is attached to vector v */
  protected hasConsumer(v: number): boolean {
    return this.consumers[v] !== null;
  }
}
