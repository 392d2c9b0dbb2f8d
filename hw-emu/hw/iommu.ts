/**
 * The IOMMU: domains (IO address spaces), device attachment by requester id, IO page tables
 * with 4 KiB / 2 MiB / 1 GiB leaves, an IOTLB, recorded faults, and per-domain dirty
 * tracking in the style of second-stage A/D bits.
 *
 * Addresses are numbers (IOVA below 2^48, targets below 2^52); `Address` accepts a bigint
 * at the map/unmap/readDirty edges. Dirty state is one bit per 4 KiB IOVA granule in a
 * chunked Uint32Array bitmap; a write through a huge leaf marks the leaf's whole extent,
 * because hardware keeps one dirty bit per IOPTE.
 *
 * Invalidation rule: `unmap` invalidates the IOTLB for the range by itself, unless the
 * IOMMU was built with `autoInvalidate: false`. In that mode stale translations remain
 * usable until `invalidate()` is called, which lets notebooks show why the flush matters.
 *
 * Splitting a huge leaf (`IoDomain.beginSplit`) into 512 leaves of the next size, as a driver
 * would to track dirty pages at a finer grain, takes one of two sequences: "atomic" replaces
 * the leaf by the new table in one store (as an Arm SMMU with break-before-make level 1 or 2
 * may change a block's size), and "break-before-make" first empties the slot and invalidates
 * the IOTLB, then installs the table; a DMA that arrives in between faults. Dirty state
 * carries over in both.
 */
import type { TimeSource } from "../sim/clock.js";
import { ChunkedBitmap } from "./bitmap-chunked.js";
import { Iotlb, type IotlbStats } from "./iommu-iotlb.js";
import { IoPageTable, PAGE_1G, PAGE_2M, PAGE_4K, PERM_READ, PERM_RW, PERM_WRITE, type IoLeaf, type WalkResult } from "./iommu-pagetable.js";
import { toAddress, type Address } from "./memory.js";

export { PAGE_1G, PAGE_2M, PAGE_4K, PERM_READ, PERM_RW, PERM_WRITE, type IoLeaf, type IotlbStats };

/** IOVA space of every domain: 48 bits (4-level tables) */
export const IOVA_LIMIT = 2 ** 48;
/** highest target address a mapping may reach */
export const TARGET_LIMIT = 2 ** 52;

export type DmaAccess = "read" | "write";
export type FaultReason = "not-present" | "permission" | "no-domain";

/** A translation fault, as the IOMMU's fault log records it. */
export interface IommuFault {
  /** simulated ns */
  time: number;
  requesterId: number;
  /** the domain the requester was attached to, or null */
  domainId: number | null;
  /** first faulting byte */
  iova: number;
  access: DmaAccess;
  reason: FaultReason;
}

/** Build a PCI requester id (routing id) from bus, device and function numbers. */
export function requesterId(bus: number, device: number, fn: number): number {
  if (bus < 0 || bus > 255 || device < 0 || device > 31 || fn < 0 || fn > 7) {
    throw new RangeError(`bad bus/device/function ${bus}/${device}/${fn}`);
  }
  return (bus << 8) | (device << 3) | fn;
}

/** "bb:dd.f" form of a requester id */
export function formatRequesterId(rid: number): string {
  const h = (x: number, w: number) => x.toString(16).padStart(w, "0");
  return `${h(rid >>> 8, 2)}:${h((rid >>> 3) & 31, 2)}.${rid & 7}`;
}

export type IommuErrorCode = "exists" | "unaligned" | "range" | "unsupported" | "busy" | "invalid";

/** Refused IOMMU operation; `code` lets the emulated kernel pick an errno. */
export class IommuError extends Error {
  override name = "IommuError";
  constructor(
    readonly code: IommuErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface IommuOptions {
  /** time source for fault timestamps (default: always 0) */
  clock?: TimeSource;
  /** IOTLB entries (default 32) */
  iotlbEntries?: number;
  /** unmap invalidates the IOTLB itself (default true) */
  autoInvalidate?: boolean;
  /** faults kept in the log; older ones are dropped but still counted (default 4096) */
  faultLogLimit?: number;
}

export interface DomainOptions {
  /** the domain can track dirty pages (default true); false models hardware without A/D bits */
  dirtyTracking?: boolean;
  /** leaf sizes the domain may use (default all of 4 KiB, 2 MiB, 1 GiB) */
  pageSizes?: readonly number[];
  /** label for displays */
  name?: string;
}

export interface MapOptions {
  /** force one leaf size instead of the largest the alignment allows */
  pageSize?: number;
}

/**
 * How a huge leaf is split: in one store ("atomic"), or by emptying its slot and invalidating
 * the IOTLB before installing the smaller leaves ("break-before-make").
 */
export type SplitMode = "atomic" | "break-before-make";

export interface ReadDirtyOptions {
  /** clear the harvested bits (default true; false is iommufd's NO_CLEAR) */
  clear?: boolean;
}

/** What an injected fault matches and how it fails (see `Iommu.injectFault`). */
export interface FaultInjectionSpec {
  /** only this device (default: any) */
  requesterId?: number;
  /** only accesses touching [iova, iova+length) (default: any address) */
  iova?: number;
  length?: number;
  /** only reads or only writes (default: both) */
  access?: DmaAccess;
  /** reason recorded in the fault (default "not-present") */
  reason?: FaultReason;
  /** how many accesses fail before the injection disarms (default 1; Infinity allowed) */
  count?: number;
}

/** An armed fault injection. */
export interface FaultInjection {
  /** accesses still to fail */
  readonly remaining: number;
  cancel(): void;
}

interface ArmedFault {
  spec: FaultInjectionSpec;
  remaining: number;
}

/** Result of a successful translation (reused by callers to avoid allocation). */
export interface Translation extends WalkResult {
  /** target address of the translated IOVA */
  gpa: number;
}

/** A fresh Translation record to pass to `Iommu.translate`. */
export function newTranslation(): Translation {
  return { gpa: 0, leafIova: 0, leafGpa: 0, leafSize: 0, perm: 0 };
}

function isPow2(x: number): boolean {
  return Number.isSafeInteger(x) && x > 0 && 2 ** Math.round(Math.log2(x)) === x;
}

/**
 * A split of one huge leaf, begun by `IoDomain.beginSplit` and completed by `finish()`.
 * Between the two, an "atomic" split still translates through the old leaf, while a
 * "break-before-make" split leaves the leaf's range unmapped (DMA there faults).
 */
export class LeafSplit {
  private finished = false;

  constructor(
    private readonly domain: IoDomain,
    /** the huge leaf being split */
    readonly leaf: IoLeaf,
    readonly mode: SplitMode,
    private readonly complete: (split: LeafSplit) => void,
  ) {}

  /** whether `finish()` has run */
  get done(): boolean {
    return this.finished;
  }

  /** Install the 512 smaller leaves (atomic: in place of the old leaf; break-before-make: in the empty slot). */
  finish(): void {
    if (this.finished) throw new IommuError("invalid", `the split of the leaf at 0x${this.leaf.iova.toString(16)} in ${this.domain.name} is already finished`);
    this.finished = true;
    this.complete(this);
  }
}

/** An IO address space: page table, dirty bitmap, tracking state. Created by `Iommu.createDomain`. */
export class IoDomain {
  readonly dirtyTrackingSupported: boolean;
  readonly pageSizes: readonly number[];
  readonly name: string;
  private readonly table = new IoPageTable();
  private readonly dirty = new ChunkedBitmap();
  private tracking = false;
  // the last range marked dirty, while no bit has been cleared since: repeated writes
  // through one huge leaf then cost nothing (a 1 GiB leaf is 32 KiB of bitmap)
  private lastMarkStart = -1;
  private lastMarkLength = 0;
  private readonly walkOut: WalkResult = { leafIova: 0, leafGpa: 0, leafSize: 0, perm: 0 };
  /** splits begun and not finished: map and unmap refuse to touch their leaves meanwhile */
  private readonly splitting = new Set<LeafSplit>();
  /** @internal set by Iommu */
  destroyed = false;

  constructor(
    private readonly iommu: Iommu,
    readonly id: number,
    options: DomainOptions,
  ) {
    this.dirtyTrackingSupported = options.dirtyTracking ?? true;
    const sizes = options.pageSizes ?? [PAGE_4K, PAGE_2M, PAGE_1G];
    for (const s of sizes) if (s !== PAGE_4K && s !== PAGE_2M && s !== PAGE_1G) throw new IommuError("invalid", `unsupported page size ${s}`);
    if (!sizes.includes(PAGE_4K)) throw new IommuError("invalid", "a domain must support 4 KiB pages");
    this.pageSizes = [...sizes].sort((a, b) => b - a);
    this.name = options.name ?? `domain${id}`;
  }

  /** bytes currently mapped */
  get mappedBytes(): number {
    return this.table.mappedBytes;
  }

  /**
   * Map [iova, iova+length) to [gpa, gpa+length) with `perm` (PERM_READ | PERM_WRITE).
   * All three must be 4 KiB aligned. Each leaf is the largest supported size that the
   * alignment of both addresses and the remaining length allow, unless `pageSize` forces one.
   * All or nothing: throws IommuError("exists") if any part is already mapped.
   */
  map(iova: Address, gpa: Address, length: Address, perm: number, options: MapOptions = {}): void {
    this.checkLive();
    const v = toAddress(iova, "iova");
    const p = toAddress(gpa, "gpa");
    const len = toAddress(length, "length");
    if (len === 0) throw new IommuError("invalid", "map: zero length");
    if (v % PAGE_4K || p % PAGE_4K || len % PAGE_4K) throw new IommuError("unaligned", "map: iova, gpa and length must be 4 KiB aligned");
    if (v + len > IOVA_LIMIT || p + len > TARGET_LIMIT) throw new IommuError("range", "map: range beyond the address limits");
    if ((perm & PERM_RW) === 0 || (perm & ~PERM_RW) !== 0) throw new IommuError("invalid", `map: bad permission ${perm}`);
    const forced = options.pageSize;
    if (forced !== undefined) {
      if (!this.pageSizes.includes(forced)) throw new IommuError("unsupported", `map: page size ${forced} not supported by ${this.name}`);
      if (v % forced || p % forced || len % forced) throw new IommuError("unaligned", `map: range not aligned to page size ${forced}`);
    }
    this.checkNotSplitting(v, len, "map");
    if (this.table.anyMapped(v, v + len)) throw new IommuError("exists", "map: part of the range is already mapped");
    let off = 0;
    while (off < len) {
      let size = forced ?? PAGE_4K;
      if (forced === undefined) {
        for (const s of this.pageSizes) {
          if ((v + off) % s === 0 && (p + off) % s === 0 && len - off >= s) {
            size = s;
            break;
          }
        }
      }
      this.table.install(v + off, p + off, size, perm);
      off += size;
    }
  }

  /**
   * Unmap everything inside [iova, iova+length) (4 KiB aligned); huge leaves straddling the
   * edges are split. Dirty bits of the range go with the mappings. Invalidates the IOTLB for
   * the range unless the IOMMU has autoInvalidate off. Returns the bytes unmapped.
   */
  unmap(iova: Address, length: Address): number {
    this.checkLive();
    const v = toAddress(iova, "iova");
    const len = toAddress(length, "length");
    if (v % PAGE_4K || len % PAGE_4K) throw new IommuError("unaligned", "unmap: iova and length must be 4 KiB aligned");
    if (len === 0) return 0;
    if (v + len > IOVA_LIMIT) throw new IommuError("range", "unmap: range beyond the IOVA limit");
    this.checkNotSplitting(v, len, "unmap");
    const n = this.table.remove(v, v + len);
    this.dirty.clearRange(v / PAGE_4K, len / PAGE_4K);
    this.lastMarkStart = -1;
    if (this.iommu.autoInvalidate) this.iommu.invalidate(this, v, len);
    return n;
  }

  /** The leaf mapping `iova`, or null (a plain table walk: no IOTLB, no fault). */
  lookup(iova: Address): IoLeaf | null {
    const v = toAddress(iova, "iova");
    if (v >= IOVA_LIMIT || !this.table.walk(v, this.walkOut)) return null;
    const w = this.walkOut;
    return { iova: w.leafIova, gpa: w.leafGpa, size: w.leafSize, perm: w.perm };
  }

  /** @internal page-table walk used by Iommu.translate */
  walk(iova: number, out: WalkResult): boolean {
    return iova < IOVA_LIMIT && this.table.walk(iova, out);
  }

  /**
   * Begin splitting the huge leaf (2 MiB or 1 GiB) that maps `iova` into 512 leaves of the next
   * smaller size with the same targets and permissions; `finish()` on the result completes it.
   * "atomic": nothing changes until `finish()`, which replaces the leaf by the new table in one
   * store and then invalidates the IOTLB for the range. "break-before-make": the leaf's slot is
   * emptied and the IOTLB invalidated now, so DMA into the range faults ("not-present") until
   * `finish()` installs the table. Either way the range's dirty bits are kept, as a driver that
   * reads the old entry's dirty bit before replacing it keeps them. Map and unmap calls that touch
   * the leaf are refused (IommuError "busy") until the split is finished.
   */
  beginSplit(iova: Address, mode: SplitMode = "atomic"): LeafSplit {
    this.checkLive();
    if (mode !== "atomic" && mode !== "break-before-make") throw new IommuError("invalid", `beginSplit: unknown mode ${JSON.stringify(mode)}`);
    const v = toAddress(iova, "iova");
    if (v >= IOVA_LIMIT || !this.table.walk(v, this.walkOut)) throw new IommuError("range", `beginSplit: no leaf maps 0x${v.toString(16)} in ${this.name}`);
    const w = this.walkOut;
    const leaf: IoLeaf = { iova: w.leafIova, gpa: w.leafGpa, size: w.leafSize, perm: w.perm };
    if (leaf.size === PAGE_4K) throw new IommuError("invalid", `beginSplit: 0x${v.toString(16)} is mapped by a 4 KiB leaf, which cannot be split`);
    if (!this.pageSizes.includes(leaf.size === PAGE_1G ? PAGE_2M : PAGE_4K)) {
      throw new IommuError("unsupported", `beginSplit: ${this.name} does not support the leaf size a split of a ${leaf.size}-byte leaf needs`);
    }
    if (mode === "break-before-make") {
      this.table.clearLeaf(leaf.iova);
      this.iommu.invalidate(this, leaf.iova, leaf.size);
    }
    this.lastMarkStart = -1;
    const split = new LeafSplit(this, leaf, mode, (s) => this.completeSplit(s));
    this.splitting.add(split);
    return split;
  }

  /** Split the huge leaf that maps `iova` at once (`beginSplit` then `finish`); returns the old leaf. */
  splitLeaf(iova: Address, mode: SplitMode = "atomic"): IoLeaf {
    const split = this.beginSplit(iova, mode);
    split.finish();
    return split.leaf;
  }

  private completeSplit(split: LeafSplit): void {
    this.checkLive();
    this.splitting.delete(split);
    const { leaf } = split;
    if (split.mode === "atomic") {
      this.table.splitLeaf(leaf.iova);
      this.iommu.invalidate(this, leaf.iova, leaf.size);
    } else {
      // the slot was emptied and the IOTLB invalidated when the split began
      this.table.installSplit(leaf);
    }
    this.lastMarkStart = -1;
  }

  private checkNotSplitting(iova: number, length: number, what: string): void {
    for (const s of this.splitting) {
      if (iova < s.leaf.iova + s.leaf.size && s.leaf.iova < iova + length) {
        throw new IommuError("busy", `${what}: the leaf at 0x${s.leaf.iova.toString(16)} in ${this.name} is being split (${s.mode})`);
      }
    }
  }

  /** Leaves in IOVA order, optionally limited to [iova, iova+length). */
  mappings(iova: Address = 0, length: Address = IOVA_LIMIT): IoLeaf[] {
    const v = toAddress(iova, "iova");
    const out: IoLeaf[] = [];
    this.table.forEachLeaf((l) => out.push(l), v, Math.min(IOVA_LIMIT, v + toAddress(length, "length")));
    return out;
  }

  // ---- dirty tracking ----

  get dirtyTracking(): boolean {
    return this.tracking;
  }

  /**
   * Turn dirty tracking on or off. Turning it on clears stale dirty bits first, as drivers
   * do when they enable hardware tracking. Turning it off keeps the bits readable.
   * Throws IommuError("unsupported") on a domain created without dirty tracking.
   */
  setDirtyTracking(enable: boolean): void {
    this.checkLive();
    if (!this.dirtyTrackingSupported) throw new IommuError("unsupported", `${this.name} does not support dirty tracking`);
    if (enable && !this.tracking) {
      this.dirty.clearAll();
      this.lastMarkStart = -1;
    }
    this.tracking = enable;
  }

  /**
   * Hardware side: mark [iova, iova+length) dirty (whole 4 KiB granules). The DMA engine
   * calls this with the extent of each leaf a write went through, and only while tracking
   * is on; the lab may call it directly to inject dirty bits.
   */
  markDirty(iova: number, length: number): void {
    if (length <= 0 || (iova === this.lastMarkStart && length === this.lastMarkLength)) return;
    this.lastMarkStart = iova;
    this.lastMarkLength = length;
    const g0 = Math.floor(iova / PAGE_4K);
    const g1 = Math.ceil((iova + length) / PAGE_4K);
    this.dirty.setRange(g0, g1 - g0);
  }

  /** whether the 4 KiB granule holding `iova` is dirty (observation only) */
  isDirty(iova: number): boolean {
    return this.dirty.test(Math.floor(iova / PAGE_4K));
  }

  /**
   * Report dirty pages of [iova, iova+length) into `bitmap`: bit n stands for the page at
   * iova + n*pageSize and is set if any 4 KiB granule of that page is dirty. Only sets bits;
   * never clears bits already in `bitmap`. `pageSize` is a power of two >= 4096; iova and
   * length must be multiples of it. A Uint8Array bitmap uses the same little-endian bit
   * order as the uAPI's u64 bitmaps. Clears what it reports unless `clear: false`.
   */
  readDirty(iova: Address, length: Address, pageSize: number, bitmap: Uint32Array | Uint8Array, options: ReadDirtyOptions = {}): void {
    this.checkLive();
    const v = toAddress(iova, "iova");
    const len = toAddress(length, "length");
    if (!isPow2(pageSize) || pageSize < PAGE_4K) throw new IommuError("invalid", `readDirty: page size must be a power of two >= 4096, got ${pageSize}`);
    if (v % pageSize || len % pageSize) throw new IommuError("unaligned", "readDirty: iova and length must be multiples of the page size");
    if (v + len > IOVA_LIMIT) throw new IommuError("range", "readDirty: range beyond the IOVA limit");
    if (len === 0) return;
    const bits = len / pageSize;
    const capacity = bitmap instanceof Uint32Array ? bitmap.length * 32 : bitmap.length * 8;
    if (capacity < bits) throw new IommuError("range", `readDirty: bitmap holds ${capacity} bits, ${bits} needed`);
    const clear = options.clear ?? true;
    if (clear) this.lastMarkStart = -1;
    const shift = Math.log2(pageSize / PAGE_4K);
    const g0 = v / PAGE_4K;
    const count = len / PAGE_4K;
    const words = Math.ceil(bits / 32);
    if (bitmap instanceof Uint32Array) {
      this.dirty.harvest(g0, count, shift, bitmap, clear);
    } else if (bitmap.byteOffset % 4 === 0 && bitmap.length >= words * 4) {
      this.dirty.harvest(g0, count, shift, new Uint32Array(bitmap.buffer, bitmap.byteOffset, words), clear);
    } else {
      // unaligned byte buffer: harvest into words, then OR bytes in
      const tmp = new Uint32Array(words);
      this.dirty.harvest(g0, count, shift, tmp, clear);
      const tmp8 = new Uint8Array(tmp.buffer);
      const nbytes = Math.ceil(bits / 8);
      for (let i = 0; i < nbytes; i++) if (tmp8[i] !== 0) bitmap[i] = bitmap[i]! | tmp8[i]!;
    }
  }

  /** bytes used by the dirty bitmap (for displays) */
  get dirtyBitmapBytes(): number {
    return this.dirty.byteLength;
  }

  private checkLive(): void {
    if (this.destroyed) throw new IommuError("invalid", `${this.name} has been destroyed`);
  }
}

export class Iommu {
  readonly autoInvalidate: boolean;
  private readonly clock: TimeSource | undefined;
  private readonly iotlb: Iotlb;
  private readonly domains = new Map<number, IoDomain>();
  private readonly attached = new Map<number, IoDomain>();
  private nextDomainId = 1;
  private readonly faultLimit: number;
  private faultLog: IommuFault[] = [];
  private totalFaults = 0;
  private readonly faultListeners = new Set<(f: IommuFault) => void>();
  private armed: ArmedFault[] = [];

  constructor(options: IommuOptions = {}) {
    this.clock = options.clock;
    this.iotlb = new Iotlb(options.iotlbEntries ?? 32);
    this.autoInvalidate = options.autoInvalidate ?? true;
    this.faultLimit = options.faultLogLimit ?? 4096;
  }

  createDomain(options: DomainOptions = {}): IoDomain {
    const d = new IoDomain(this, this.nextDomainId++, options);
    this.domains.set(d.id, d);
    return d;
  }

  /** Destroy a domain; refused (IommuError "busy") while a device is attached to it. */
  destroyDomain(domain: IoDomain): void {
    for (const d of this.attached.values()) {
      if (d === domain) throw new IommuError("busy", `${domain.name} still has devices attached`);
    }
    this.iotlb.invalidate(domain.id);
    this.domains.delete(domain.id);
    domain.destroyed = true;
  }

  /** all live domains, by id */
  listDomains(): IoDomain[] {
    return [...this.domains.values()];
  }

  /** Attach (or re-attach) the device with this requester id to `domain`. */
  attach(rid: number, domain: IoDomain): void {
    if (domain.destroyed || this.domains.get(domain.id) !== domain) throw new IommuError("invalid", "attach: domain does not belong to this IOMMU");
    this.attached.set(rid, domain);
  }

  /** Detach a device: its DMA then faults with reason "no-domain". */
  detach(rid: number): void {
    this.attached.delete(rid);
  }

  domainOf(rid: number): IoDomain | undefined {
    return this.attached.get(rid);
  }

  /**
   * Translate one access at `iova` for requester `rid`. On success fills `out` (target of
   * `iova` and the leaf around it) and returns true. On failure records a fault and returns
   * false. Uses and fills the IOTLB.
   */
  translate(rid: number, iova: number, access: DmaAccess, out: Translation): boolean {
    const domain = this.attached.get(rid);
    if (domain === undefined) {
      this.fault(rid, null, iova, access, "no-domain");
      return false;
    }
    const tlb = this.iotlb;
    const i = tlb.lookup(domain.id, iova);
    if (i >= 0) {
      out.leafIova = tlb.entryBase(i);
      out.leafSize = tlb.entrySize(i);
      out.leafGpa = tlb.entryGpa(i);
      out.perm = tlb.entryPerm(i);
    } else {
      if (!domain.walk(iova, out)) {
        this.fault(rid, domain.id, iova, access, "not-present");
        return false;
      }
      tlb.insert(domain.id, out.leafIova, out.leafSize, out.leafGpa, out.perm);
    }
    const need = access === "write" ? PERM_WRITE : PERM_READ;
    if ((out.perm & need) === 0) {
      this.fault(rid, domain.id, iova, access, "permission");
      return false;
    }
    out.gpa = out.leafGpa + (iova - out.leafIova);
    return true;
  }

  /** Invalidate IOTLB entries of `domain` overlapping [iova, iova+length) (all of the domain by default). */
  invalidate(domain: IoDomain, iova = 0, length = IOVA_LIMIT): void {
    this.iotlb.invalidate(domain.id, iova, iova + length);
  }

  /** Drop every IOTLB entry. */
  flushIotlb(): void {
    this.iotlb.flush();
  }

  get iotlbStats(): Readonly<IotlbStats> {
    return this.iotlb.stats;
  }

  /** IOTLB entries currently valid */
  get iotlbOccupancy(): number {
    return this.iotlb.occupied;
  }

  // ---- faults ----

  /** the most recent faults (up to the log limit), oldest first */
  get faults(): readonly IommuFault[] {
    return this.faultLog.length > this.faultLimit ? this.faultLog.slice(-this.faultLimit) : this.faultLog;
  }

  /** faults since creation or the last clearFaults, including ones dropped from the log */
  get faultCount(): number {
    return this.totalFaults;
  }

  clearFaults(): void {
    this.faultLog = [];
    this.totalFaults = 0;
  }

  /** Subscribe to faults as they happen; returns an unsubscribe function. */
  onFault(listener: (f: IommuFault) => void): () => void {
    this.faultListeners.add(listener);
    return () => this.faultListeners.delete(listener);
  }

  /**
   * Make matching DMA accesses fail as if translation faulted, whatever the page tables
   * say (a lab disturbance: real hardware has no such switch). Each failing access records
   * one fault and writes nothing.
   */
  injectFault(spec: FaultInjectionSpec): FaultInjection {
    const armed: ArmedFault = { spec, remaining: spec.count ?? 1 };
    if (!(armed.remaining >= 1)) throw new RangeError("injectFault: count must be >= 1");
    this.armed.push(armed);
    const iommu = this;
    return {
      get remaining() {
        return armed.remaining;
      },
      cancel() {
        armed.remaining = 0;
        iommu.armed = iommu.armed.filter((a) => a !== armed);
      },
    };
  }

  /** whether any fault injection is armed (lets the DMA engine skip the check) */
  get hasInjectedFaults(): boolean {
    return this.armed.length > 0;
  }

  /**
   * Check an access of [iova, iova+length) against armed injections. On a match, records
   * the fault, consumes one count and returns true.
   */
  checkInjectedFault(rid: number, iova: number, length: number, access: DmaAccess): boolean {
    for (const a of this.armed) {
      const s = a.spec;
      if (s.requesterId !== undefined && s.requesterId !== rid) continue;
      if (s.access !== undefined && s.access !== access) continue;
      if (s.iova !== undefined && !(iova < s.iova + (s.length ?? 1) && s.iova < iova + length)) continue;
      const at = s.iova !== undefined ? Math.max(iova, s.iova) : iova;
      if (--a.remaining <= 0) this.armed = this.armed.filter((x) => x !== a);
      this.fault(rid, this.attached.get(rid)?.id ?? null, at, access, s.reason ?? "not-present");
      return true;
    }
    return false;
  }

  /** Record a fault (also used by the lab to inject one). */
  recordFault(fault: IommuFault): void {
    this.totalFaults++;
    this.faultLog.push(fault);
    // trim in batches so recording stays O(1) amortised
    if (this.faultLog.length >= 2 * this.faultLimit) this.faultLog = this.faultLog.slice(-this.faultLimit);
    for (const l of this.faultListeners) l(fault);
  }

  private fault(rid: number, domainId: number | null, iova: number, access: DmaAccess, reason: FaultReason): void {
    this.recordFault({ time: this.clock?.now ?? 0, requesterId: rid, domainId, iova, access, reason });
  }
}
