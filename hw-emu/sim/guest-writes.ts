/**
 * Guest CPU writes: a number of pages dirtied per simulated second inside a working set,
 * batched in ticks (1 ms by default), as the pre-copy loop of a migration sees them. Each
 * write is a small stamp (tick and write numbers) so written pages really change.
 */
import type { Clock } from "./clock.js";
import { NS_PER_MS, NS_PER_S } from "./clock.js";
import type { Random } from "./random.js";
import { AddressPicker, Workload, type Locality, type Region } from "./workload.js";

const PAGE = 4096;

export interface GuestWritesConfig {
  /** guest physical range the guest keeps writing to */
  workingSet: Region;
  /** pages written per simulated second (fractions carry over between ticks) */
  pagesPerSecond: number;
  /** which pages: uniform (default), hot-set, or sequential over the working set */
  locality?: Locality;
  /** simulated ns between batches (default 1 ms) */
  tickNs?: number;
  /** bytes written per page, 1..4096 (default 8); the offset in the page is random */
  bytesPerWrite?: number;
  name?: string;
}

export class GuestWrites extends Workload {
  private readonly picker: AddressPicker;
  private readonly tickNs: number;
  private perTick: number;
  private readonly stamp: Uint8Array;
  private readonly view: DataView;
  private carry = 0;
  private ticks = 0;

  constructor(
    clock: Clock,
    private readonly rng: Random,
    config: GuestWritesConfig,
    private readonly sink: (gpa: number, data: Uint8Array) => void,
  ) {
    super(clock, config.name ?? "guest-writes");
    if (!(config.pagesPerSecond >= 0)) throw new RangeError("pagesPerSecond must be >= 0");
    const ws = config.workingSet;
    if (ws.base % PAGE !== 0 || ws.length % PAGE !== 0) throw new RangeError("working set must be page-aligned");
    this.picker = new AddressPicker(ws, PAGE, config.locality ?? { kind: "uniform" }, rng);
    this.tickNs = config.tickNs ?? NS_PER_MS;
    if (!Number.isSafeInteger(this.tickNs) || this.tickNs <= 0) throw new RangeError("tickNs must be a positive integer");
    this.perTick = (config.pagesPerSecond * this.tickNs) / NS_PER_S;
    const n = config.bytesPerWrite ?? 8;
    if (!Number.isInteger(n) || n < 1 || n > PAGE) throw new RangeError("bytesPerWrite must be 1..4096");
    this.stamp = new Uint8Array(n);
    this.view = new DataView(this.stamp.buffer);
  }

  /**
   * Change the rate from the next tick on (a throttled vCPU stores less often); the
   * fraction carried between ticks is kept, so no write is lost or added at the change.
   */
  setPagesPerSecond(pagesPerSecond: number): void {
    if (!(pagesPerSecond >= 0) || !Number.isFinite(pagesPerSecond)) throw new RangeError(`pagesPerSecond must be a non-negative number, got ${pagesPerSecond}`);
    this.perTick = (pagesPerSecond * this.tickNs) / NS_PER_S;
  }

  /** pages written per simulated second at the current rate */
  get pagesPerSecond(): number {
    return (this.perTick * NS_PER_S) / this.tickNs;
  }

  protected tick(): number {
    this.carry += this.perTick;
    const n = Math.floor(this.carry);
    this.carry -= n;
    const len = this.stamp.length;
    for (let i = 0; i < n; i++) {
      const page = this.picker.next();
      // 8-byte aligned, like a store of a u64; still inside the page
      const off = len === PAGE ? 0 : this.rng.int(0, PAGE - len) & ~7;
      this.writeStamp(this.stats.ops);
      this.stats.ops++;
      this.stats.bytes += len;
      this.sink(page + off, this.stamp);
    }
    this.ticks++;
    return this.tickNs;
  }

  private writeStamp(op: number): void {
    const s = this.stamp;
    if (s.length >= 8) {
      this.view.setUint32(0, this.ticks, true);
      this.view.setUint32(4, op, true);
    } else {
      for (let i = 0; i < s.length; i++) s[i] = (op >>> (8 * i)) ^ 0x5a;
    }
  }
}
