/**
 * A PCI hierarchy seen from the root complex: functions addressed by routing
 * id (bus << 8 | device << 3 | function), configuration cycles by routing id,
 * and memory / I/O cycles decoded by address against the BARs that have
 * their decoding enabled.
 *
 * Unclaimed cycles behave like a master abort: config and memory reads
 * return all ones, writes are dropped.
 */
import { checkRoutingId, formatBdf } from "./address.js";
import type { AccessSize } from "./config-space.js";
import type { BarWindow, PciFunction } from "./function.js";

export type BusChange = { kind: "attach" | "detach"; rid: number; fn: PciFunction };

export interface DecodedAccess {
  fn: PciFunction;
  bar: number;
  offset: number;
}

const ALL_ONES: Record<AccessSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

export class PciBus {
  private readonly fns = new Map<number, PciFunction>();
  private readonly listeners = new Set<(change: BusChange) => void>();
  private readonly decodeUnsubs = new Map<number, () => void>();
  private readonly windowListeners = new Set<() => void>();

  /** Makes `fn` visible at routing id `rid`; its current config becomes its reset state. */
  attach(fn: PciFunction, rid: number): void {
    checkRoutingId(rid);
    if (this.fns.has(rid)) throw new Error(`${formatBdf(rid)} is already occupied by ${this.fns.get(rid)!.name}`);
    if (fn.attached) throw new Error(`${fn.name} is already attached at ${formatBdf(fn.routingId)}`);
    fn.seal();
    fn.setAttachment(this, rid);
    this.fns.set(rid, fn);
    this.decodeUnsubs.set(rid, fn.onDecodeChange(() => this.notifyWindows()));
    this.emit({ kind: "attach", rid, fn });
    this.notifyWindows();
  }

  /** Removes the function at `rid` (hot-unplug, or VF Enable cleared). */
  detach(rid: number): PciFunction {
    const fn = this.fns.get(rid);
    if (!fn) throw new Error(`no function at ${formatBdf(rid)}`);
    this.fns.delete(rid);
    this.decodeUnsubs.get(rid)?.();
    this.decodeUnsubs.delete(rid);
    fn.setAttachment(null, null);
    this.emit({ kind: "detach", rid, fn });
    this.notifyWindows();
    return fn;
  }

  get(rid: number): PciFunction | undefined {
    return this.fns.get(rid);
  }

  /** All functions in routing-id order. */
  functions(): PciFunction[] {
    return [...this.fns.keys()].sort((a, b) => a - b).map((rid) => this.fns.get(rid)!);
  }

  /** Attach/detach notifications (e.g. for an IOMMU that keeps per-requester state). */
  onChange(listener: (change: BusChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called whenever any function's decoded windows may have changed. */
  onWindowsChange(listener: () => void): () => void {
    this.windowListeners.add(listener);
    return () => this.windowListeners.delete(listener);
  }

  private emit(change: BusChange): void {
    for (const l of [...this.listeners]) l(change);
  }

  private notifyWindows(): void {
    for (const l of [...this.windowListeners]) l();
  }

  // ---- configuration cycles ----

  configRead(rid: number, offset: number, size: AccessSize): number {
    const fn = this.fns.get(checkRoutingId(rid));
    return fn ? fn.configRead(offset, size) : ALL_ONES[size];
  }

  configWrite(rid: number, offset: number, size: AccessSize, value: number): void {
    const fn = this.fns.get(checkRoutingId(rid));
    if (fn) fn.configWrite(offset, size, value);
  }

  // ---- address decoding ----

  /** Every BAR currently decoded, in routing-id then BAR order. */
  windows(space: "mem" | "io" = "mem"): BarWindow[] {
    return this.functions()
      .flatMap((fn) => fn.decodedWindows())
      .filter((w) => (space === "io") === (w.kind === "io"));
  }

  /** Which function and BAR claim `[address, address+size)`, if any. */
  decode(address: bigint, size: number, space: "mem" | "io" = "mem"): DecodedAccess | undefined {
    for (const w of this.windows(space)) {
      const end = w.base + BigInt(w.size);
      if (address >= w.base && address + BigInt(size) <= end) {
        return { fn: w.fn, bar: w.bar, offset: Number(address - w.base) };
      }
    }
    return undefined;
  }

  memRead(address: bigint, size: AccessSize): number {
    const d = this.decode(address, size, "mem");
    return d ? d.fn.mmioRead(d.bar, d.offset, size) : ALL_ONES[size];
  }

  /** Returns false when no function claimed the write (it is dropped). */
  memWrite(address: bigint, size: AccessSize, value: number): boolean {
    const d = this.decode(address, size, "mem");
    if (!d) return false;
    d.fn.mmioWrite(d.bar, d.offset, size, value);
    return true;
  }

  ioRead(port: number, size: AccessSize): number {
    const d = this.decode(BigInt(port), size, "io");
    return d ? d.fn.mmioRead(d.bar, d.offset, size) : ALL_ONES[size];
  }

  ioWrite(port: number, size: AccessSize, value: number): boolean {
    const d = this.decode(BigInt(port), size, "io");
    if (!d) return false;
    d.fn.mmioWrite(d.bar, d.offset, size, value);
    return true;
  }
}
