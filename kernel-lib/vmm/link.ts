/**
 * The migration link: bytes take bytes / bandwidth of simulated time, and the
 * shared clock runs (guest, devices, wire traffic) while they travel. Fractions
 * of a nanosecond carry over, so many small sends add up exactly.
 */
import type { Clock } from "../../hw-emu/sim/clock.js";

export class Link {
  private carry = 0;
  /** bytes sent so far */
  bytes = 0;

  constructor(
    private readonly clock: Clock,
    /** bytes per second */
    readonly bandwidth: number,
  ) {
    if (!(bandwidth > 0) || !Number.isFinite(bandwidth)) throw new RangeError(`bandwidth must be a positive number of bytes per second, got ${bandwidth}`);
  }

  /** Send `n` bytes: the clock advances by their transfer time. */
  send(n: number): void {
    if (n <= 0) return;
    this.bytes += n;
    this.wait((n / this.bandwidth) * 1e9);
  }

  /** Let `ns` (possibly fractional) of simulated time pass. */
  wait(ns: number): void {
    const exact = ns + this.carry;
    const whole = Math.floor(exact);
    this.carry = exact - whole;
    if (whole > 0) this.clock.advance(whole);
  }
}
