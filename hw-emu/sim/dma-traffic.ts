/**
 * Device DMA traffic: operations of a fixed size at a given byte rate, placed in a region by
 * a locality, as a device's queues would produce them. Each operation is handed to a sink
 * (typically a DmaPort's write or read); the workload never touches a device itself.
 */
import type { Clock } from "./clock.js";
import { NS_PER_S } from "./clock.js";
import type { Random } from "./random.js";
import { AddressPicker, Workload, type Locality, type Region } from "./workload.js";

export interface DmaOp {
  kind: "read" | "write";
  /** operation number, from 0 */
  seq: number;
  iova: number;
  length: number;
  /** payload of a write (valid only during the sink call): op number in the first 8 bytes, then seeded bytes */
  data: Uint8Array;
}

export interface DmaTrafficConfig {
  /** IOVA range the device targets */
  region: Region;
  /** average bytes per simulated second */
  bytesPerSecond: number;
  /** bytes per operation (operations are aligned to this size inside the region) */
  size: number;
  locality?: Locality;
  /** fraction of operations that are reads (default 0: all writes) */
  readFraction?: number;
  /** "fixed" spacing (default) or "poisson" arrivals with the same mean rate */
  arrivals?: "fixed" | "poisson";
  name?: string;
}

export class DmaTraffic extends Workload {
  private readonly picker: AddressPicker;
  private readonly payload: Uint8Array;
  private readonly view: DataView;
  private readonly meanGap: number;
  private seq = 0;

  constructor(
    clock: Clock,
    private readonly rng: Random,
    private readonly config: DmaTrafficConfig,
    private readonly sink: (op: DmaOp) => void,
  ) {
    super(clock, config.name ?? "dma-traffic");
    if (!(config.bytesPerSecond > 0)) throw new RangeError("bytesPerSecond must be positive");
    this.picker = new AddressPicker(config.region, config.size, config.locality ?? { kind: "uniform" }, rng);
    this.payload = rng.bytes(new Uint8Array(config.size));
    this.view = new DataView(this.payload.buffer);
    this.meanGap = (config.size / config.bytesPerSecond) * NS_PER_S;
  }

  protected tick(): number {
    const c = this.config;
    const kind = c.readFraction !== undefined && this.rng.float() < c.readFraction ? "read" : "write";
    if (this.payload.length >= 8) this.view.setFloat64(0, this.seq, true);
    const op: DmaOp = { kind, seq: this.seq++, iova: this.picker.next(), length: c.size, data: this.payload };
    this.stats.ops++;
    this.stats.bytes += c.size;
    this.sink(op);
    return c.arrivals === "poisson" ? this.rng.exponential(this.meanGap) : this.meanGap;
  }
}
