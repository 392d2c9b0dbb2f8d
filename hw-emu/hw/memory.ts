/**
 * Guest physical memory: sparse, page-granular (4 KiB), real bytes.
 *
 * Addresses are plain numbers (byte offsets from guest physical address 0). A guest may be
 * up to 8 TiB (2^43 bytes, the type1 ceiling), so every address and page index stays an
 * exact small number and hot paths never touch BigInt. Use `toAddress` to accept a u64
 * from a uAPI struct as a bigint.
 *
 * Representation (what is stored is always exactly the bytes that were written):
 * - an untouched page has no storage at all; it reads as zeros;
 * - a touched page whose content is one 32-bit word repeated, except for at most
 *   SPARSE_PATCHES (6) words, is kept compact: the fill word and the patched words
 *   (41 bytes of storage). Small writes (descriptors, counters, a guest dirtying one
 *   cache line) and uniform fills (memset) stay compact;
 * - a page is promoted to a full 4 KiB buffer, kept in 16 MiB slabs, when a write would
 *   need more patched words. It stays full from then on.
 * The page index is an open-addressing hash map over two Int32Arrays: no JS object per page.
 */
import { ABSENT, PageMap } from "./memory-page-map.js";
import { SPARSE_PATCHES, SparseStore } from "./memory-sparse.js";
import { digestTermA, digestTermB, fillHash, hashPageWords, hex32, laneA, laneB } from "./memory-hash.js";

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
/** largest guest memory size supported (8 TiB) */
export const MAX_GUEST_MEMORY = 2 ** 43;

// full pages are hashed and filled through Uint32Array views of their bytes, which match
// the little-endian words of compact pages only on a little-endian host
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error("guest memory model needs a little-endian host");

const SLAB_SHIFT = 12; // pages per slab: 4096, i.e. 16 MiB
const SLAB_MASK = (1 << SLAB_SHIFT) - 1;
const NOT_UNIFORM = -1;

/** An address as a number, or as a bigint from a u64 field. */
export type Address = number | bigint;

/** Convert an address to a number, refusing negatives and values above 2^53. */
export function toAddress(a: Address, what = "address"): number {
  if (typeof a === "bigint") {
    if (a < 0n || a > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${what} out of range: 0x${a.toString(16)}`);
    return Number(a);
  }
  if (!Number.isSafeInteger(a) || a < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${a}`);
  return a;
}

export interface MemoryStats {
  /** pages that have been written at least once */
  allocatedPages: number;
  /** pages stored as full 4 KiB buffers */
  densePages: number;
  /** pages stored compactly (fill word + few patched words) */
  compactPages: number;
  /** bytes of backing storage reserved by the model (slabs, compact store, index) */
  backingBytes: number;
}

export interface GuestMemoryOptions {
  /** size in bytes: a multiple of 4096, at most 2^43 */
  size: Address;
}

/** If the 4096 bytes at src[so..] are one 32-bit word repeated, that word; else NOT_UNIFORM. */
function uniformWord(src: Uint8Array, so: number): number {
  const b0 = src[so]!;
  const b1 = src[so + 1]!;
  const b2 = src[so + 2]!;
  const b3 = src[so + 3]!;
  for (let i = so + 4, end = so + PAGE_SIZE; i < end; i += 4) {
    if (src[i] !== b0 || src[i + 1] !== b1 || src[i + 2] !== b2 || src[i + 3] !== b3) return NOT_UNIFORM;
  }
  return (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0;
}

/** Write `n` bytes of the repeated little-endian word `fill`, as seen from page offset `o`. */
function fillPattern(dst: Uint8Array, at: number, n: number, fill: number, o: number): void {
  const b = fill & 0xff;
  if (((Math.imul(b, 0x01010101) >>> 0) === fill)) {
    dst.fill(b, at, at + n);
    return;
  }
  for (let i = 0; i < n; i++) dst[at + i] = fill >>> (((o + i) & 3) << 3);
}

export class GuestMemory {
  readonly size: number;
  private readonly map = new PageMap(12);
  private readonly sparse = new SparseStore();
  private readonly slabs: Uint8Array[] = [];
  private readonly slabWords: Uint32Array[] = [];
  private denseNext = 0;
  private readonly denseFree: number[] = [];
  private nDense = 0;
  private nCompact = 0;
  // scratch for computing a compact page's new patches
  private readonly pIdx = new Uint16Array(SPARSE_PATCHES);
  private readonly pVal = new Uint32Array(SPARSE_PATCHES);
  private readonly scratch8 = new Uint8Array(8);
  private readonly scratchView = new DataView(this.scratch8.buffer);
  private readonly hashOut = new Uint32Array(2);

  constructor(options: GuestMemoryOptions) {
    const size = toAddress(options.size, "memory size");
    if (size === 0 || size % PAGE_SIZE !== 0 || size > MAX_GUEST_MEMORY) {
      throw new RangeError(`memory size must be a non-zero multiple of 4096 up to 2^43, got ${size}`);
    }
    this.size = size;
  }

  // ---- bytes ----

  /** Read `length` bytes at `gpa` into a new array. */
  read(gpa: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.readInto(gpa, out);
    return out;
  }

  /** Read `length` bytes at `gpa` into dst[dstOffset..]. Untouched memory reads as zeros. */
  readInto(gpa: number, dst: Uint8Array, dstOffset = 0, length = dst.length - dstOffset): void {
    this.checkSpan(gpa, length);
    let addr = gpa;
    let at = dstOffset;
    let left = length;
    while (left > 0) {
      const pi = Math.floor(addr / PAGE_SIZE);
      const o = addr - pi * PAGE_SIZE;
      let n = Math.min(PAGE_SIZE - o, left);
      const d = this.map.get(pi);
      if (d !== ABSENT && d >= 0 && n > 64) {
        // consecutive full pages in one slab: one copy (as in write)
        let run = 1;
        while (n + PAGE_SIZE <= left && ((d + run) & SLAB_MASK) !== 0 && this.map.get(pi + run) === d + run) {
          n += PAGE_SIZE;
          run++;
        }
        const off = ((d & SLAB_MASK) << PAGE_SHIFT) + o;
        dst.set(this.slabs[d >>> SLAB_SHIFT]!.subarray(off, off + n), at);
      } else {
        this.readPage(pi, o, dst, at, n);
      }
      addr += n;
      at += n;
      left -= n;
    }
  }

  /** Write src[srcOffset .. srcOffset+length) at `gpa`. */
  write(gpa: number, src: Uint8Array, srcOffset = 0, length = src.length - srcOffset): void {
    this.checkSpan(gpa, length);
    if (srcOffset < 0 || srcOffset + length > src.length) throw new RangeError("write: source span out of bounds");
    let addr = gpa;
    let at = srcOffset;
    let left = length;
    while (left > 0) {
      const pi = Math.floor(addr / PAGE_SIZE);
      const o = addr - pi * PAGE_SIZE;
      let n = Math.min(PAGE_SIZE - o, left);
      const d = this.map.get(pi);
      if (d !== ABSENT && d >= 0 && n > 64) {
        // full pages stored in consecutive slots of one slab (sequential first touches
        // allocate them so) take one copy instead of one per page
        let run = 1;
        while (n + PAGE_SIZE <= left && ((d + run) & SLAB_MASK) !== 0 && this.map.get(pi + run) === d + run) {
          n += PAGE_SIZE;
          run++;
        }
        const off = ((d & SLAB_MASK) << PAGE_SHIFT) + o;
        this.slabs[d >>> SLAB_SHIFT]!.set(src.subarray(at, at + n), off);
      } else {
        this.writePage(pi, o, src, at, n);
      }
      addr += n;
      at += n;
      left -= n;
    }
  }

  /** Set `length` bytes at `gpa` to `byte` (whole pages stay compact). */
  fill(gpa: number, length: number, byte: number): void {
    this.checkSpan(gpa, length);
    const page = new Uint8Array(PAGE_SIZE).fill(byte);
    let addr = gpa;
    let left = length;
    while (left > 0) {
      const pi = Math.floor(addr / PAGE_SIZE);
      const o = addr - pi * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - o, left);
      this.writePage(pi, o, page, 0, n);
      addr += n;
      left -= n;
    }
  }

  readU8(gpa: number): number {
    this.readInto(gpa, this.scratch8, 0, 1);
    return this.scratch8[0]!;
  }
  readU16(gpa: number): number {
    this.readInto(gpa, this.scratch8, 0, 2);
    return this.scratchView.getUint16(0, true);
  }
  readU32(gpa: number): number {
    this.readInto(gpa, this.scratch8, 0, 4);
    return this.scratchView.getUint32(0, true);
  }
  readU64(gpa: number): bigint {
    this.readInto(gpa, this.scratch8, 0, 8);
    return this.scratchView.getBigUint64(0, true);
  }
  writeU8(gpa: number, v: number): void {
    this.scratch8[0] = v;
    this.write(gpa, this.scratch8, 0, 1);
  }
  writeU16(gpa: number, v: number): void {
    this.scratchView.setUint16(0, v, true);
    this.write(gpa, this.scratch8, 0, 2);
  }
  writeU32(gpa: number, v: number): void {
    this.scratchView.setUint32(0, v >>> 0, true);
    this.write(gpa, this.scratch8, 0, 4);
  }
  writeU64(gpa: number, v: bigint | number): void {
    this.scratchView.setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true);
    this.write(gpa, this.scratch8, 0, 8);
  }

  // ---- pages ----

  /** whether the page containing `gpa` has been written */
  isAllocated(gpa: number): boolean {
    this.checkSpan(gpa, 1);
    return this.map.get(Math.floor(gpa / PAGE_SIZE)) !== ABSENT;
  }

  /** number of pages written at least once */
  get allocatedPages(): number {
    return this.map.size;
  }

  stats(): MemoryStats {
    return {
      allocatedPages: this.map.size,
      densePages: this.nDense,
      compactPages: this.nCompact,
      backingBytes: this.slabs.length * (PAGE_SIZE << SLAB_SHIFT) + this.sparse.byteLength + this.map.byteLength,
    };
  }

  /**
   * Guest physical addresses of allocated pages, ascending; limited to [start, start+length)
   * when a range is given.
   */
  allocatedPageAddresses(start = 0, length = this.size): Float64Array {
    const keys = this.map.sortedKeys();
    const lo = Math.floor(start / PAGE_SIZE);
    const hi = Math.ceil((start + length) / PAGE_SIZE);
    let n = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i]! >= lo && keys[i]! < hi) n++;
    const out = new Float64Array(n);
    let j = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k >= lo && k < hi) out[j++] = k * PAGE_SIZE;
    }
    return out;
  }

  /** Calls `fn(gpa)` for each allocated page, ascending. */
  forEachAllocatedPage(fn: (gpa: number) => void): void {
    const keys = this.map.sortedKeys();
    for (let i = 0; i < keys.length; i++) fn(keys[i]! * PAGE_SIZE);
  }

  /**
   * 32-bit content hash of the page containing `gpa`. Equal content gives an equal hash
   * whatever the representation; an untouched page hashes like a page of zeros.
   */
  pageHash(gpa: number): number {
    this.checkSpan(gpa, 1);
    this.hashPage(Math.floor(gpa / PAGE_SIZE), this.hashOut);
    return this.hashOut[0]!;
  }

  /**
   * 64-bit digest (16 hex digits) of the content of [start, start+length) (default: all
   * memory). Depends only on bytes: two memories with the same content have the same digest
   * even if one has allocated pages of zeros the other never touched.
   */
  digest(start = 0, length = this.size): string {
    this.checkSpan(start, length);
    const lo = start / PAGE_SIZE;
    const hi = (start + length) / PAGE_SIZE;
    if (!Number.isInteger(lo) || !Number.isInteger(hi)) throw new RangeError("digest range must be page-aligned");
    let a = 0;
    let b = 0;
    const h = this.hashOut;
    this.map.forEach((pi) => {
      if (pi < lo || pi >= hi) return;
      this.hashPage(pi, h);
      a = (a + digestTermA(pi, h[0]!)) | 0;
      b = (b + digestTermB(pi, h[1]!)) | 0;
    });
    return hex32(a) + hex32(b);
  }

  /**
   * Page addresses (ascending) whose content differs between this memory and `other`,
   * at most `limit` of them. Both memories must have the same size.
   */
  differingPages(other: GuestMemory, limit = Infinity): number[] {
    if (other.size !== this.size) throw new RangeError("differingPages: memories differ in size");
    const keys = new Set<number>();
    this.map.forEach((k) => keys.add(k));
    other.map.forEach((k) => keys.add(k));
    const sorted = Int32Array.from(keys).sort();
    const ha = new Uint32Array(2);
    const hb = new Uint32Array(2);
    const out: number[] = [];
    for (let i = 0; i < sorted.length && out.length < limit; i++) {
      const pi = sorted[i]!;
      this.hashPage(pi, ha);
      other.hashPage(pi, hb);
      if (ha[0] !== hb[0] || ha[1] !== hb[1]) out.push(pi * PAGE_SIZE);
    }
    return out;
  }

  // ---- internals ----

  private checkSpan(gpa: number, length: number): void {
    if (!Number.isSafeInteger(gpa) || gpa < 0 || !Number.isSafeInteger(length) || length < 0 || gpa + length > this.size) {
      throw new RangeError(`guest memory access out of range: gpa=0x${gpa.toString(16)} length=${length} size=0x${this.size.toString(16)}`);
    }
  }

  private hashPage(pi: number, out: Uint32Array): void {
    const v = this.map.get(pi);
    if (v === ABSENT) {
      const z = fillHash(0);
      out[0] = z[0]!;
      out[1] = z[1]!;
    } else if (v >= 0) {
      hashPageWords(this.slabWords[v >>> SLAB_SHIFT]!, (v & SLAB_MASK) << 10, out);
    } else {
      const s = ~v;
      const fill = this.sparse.fill(s);
      const f = fillHash(fill);
      let a = f[0]!;
      let b = f[1]!;
      for (let k = 0, n = this.sparse.count(s); k < n; k++) {
        const j = this.sparse.patchIndex(s, k);
        const w = this.sparse.patchValue(s, k);
        a = (a - laneA(j, fill) + laneA(j, w)) | 0;
        b = (b - laneB(j, fill) + laneB(j, w)) | 0;
      }
      out[0] = a;
      out[1] = b;
    }
  }

  private readPage(pi: number, o: number, dst: Uint8Array, at: number, n: number): void {
    const v = this.map.get(pi);
    if (v === ABSENT) {
      dst.fill(0, at, at + n);
    } else if (v >= 0) {
      const slab = this.slabs[v >>> SLAB_SHIFT]!;
      const off = ((v & SLAB_MASK) << PAGE_SHIFT) + o;
      if (n > 64) dst.set(slab.subarray(off, off + n), at);
      else for (let i = 0; i < n; i++) dst[at + i] = slab[off + i]!;
    } else {
      const s = ~v;
      fillPattern(dst, at, n, this.sparse.fill(s), o);
      for (let k = 0, cnt = this.sparse.count(s); k < cnt; k++) {
        const b = this.sparse.patchIndex(s, k) << 2;
        if (b + 4 <= o || b >= o + n) continue;
        const w = this.sparse.patchValue(s, k);
        for (let t = 0; t < 4; t++) {
          const x = b + t;
          if (x >= o && x < o + n) dst[at + x - o] = w >>> (t << 3);
        }
      }
    }
  }

  private writePage(pi: number, o: number, src: Uint8Array, so: number, n: number): void {
    const v = this.map.get(pi);
    if (v !== ABSENT && v >= 0) {
      this.writeDense(v, o, src, so, n);
      return;
    }
    if (n === PAGE_SIZE) {
      const f = uniformWord(src, so);
      if (f !== NOT_UNIFORM) {
        if (v === ABSENT) {
          this.map.set(pi, ~this.sparse.alloc(f));
          this.nCompact++;
        } else {
          this.sparse.store(~v, f, 0, this.pIdx, this.pVal);
        }
        return;
      }
      const d = this.allocDense();
      if (v !== ABSENT) this.freeCompact(~v);
      this.map.set(pi, d);
      this.writeDense(d, 0, src, so, n);
      return;
    }
    let fill = 0;
    let count = 0;
    if (v !== ABSENT) {
      const s = ~v;
      fill = this.sparse.fill(s);
      count = this.sparse.count(s);
      for (let k = 0; k < count; k++) {
        this.pIdx[k] = this.sparse.patchIndex(s, k);
        this.pVal[k] = this.sparse.patchValue(s, k);
      }
    }
    const newCount = this.patch(fill, count, o, src, so, n);
    if (newCount >= 0) {
      let s: number;
      if (v === ABSENT) {
        s = this.sparse.alloc(fill);
        this.map.set(pi, ~s);
        this.nCompact++;
      } else {
        s = ~v;
      }
      this.sparse.store(s, fill, newCount, this.pIdx, this.pVal);
      return;
    }
    // too many distinct words: promote to a full page, then write into it
    const d = this.allocDense();
    const words = this.slabWords[d >>> SLAB_SHIFT]!;
    const base = (d & SLAB_MASK) << 10;
    words.fill(fill, base, base + 1024);
    if (v !== ABSENT) {
      const s = ~v;
      for (let k = 0; k < count; k++) words[base + this.sparse.patchIndex(s, k)] = this.sparse.patchValue(s, k);
      this.freeCompact(s);
    }
    this.map.set(pi, d);
    this.writeDense(d, o, src, so, n);
  }

  /**
   * Apply a write of src[so..so+n) at page offset `o` to the patch list held in pIdx/pVal
   * (`count` entries over `fill`). Returns the new count, or -1 if it would exceed the limit.
   */
  private patch(fill: number, count: number, o: number, src: Uint8Array, so: number, n: number): number {
    const pIdx = this.pIdx;
    const pVal = this.pVal;
    const end = o + n;
    const j0 = o >>> 2;
    const j1 = (end - 1) >>> 2;
    for (let j = j0; j <= j1; j++) {
      let k = 0;
      while (k < count && pIdx[k] !== j) k++;
      const b = j << 2;
      let w: number;
      if (b >= o && b + 4 <= end) {
        const p = so + b - o;
        w = (src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16) | (src[p + 3]! << 24)) >>> 0;
      } else {
        w = k < count ? pVal[k]! : fill;
        for (let t = 0; t < 4; t++) {
          const x = b + t;
          if (x >= o && x < end) w = (w & ~(0xff << (t << 3))) | (src[so + x - o]! << (t << 3));
        }
        w >>>= 0;
      }
      if (w === fill) {
        if (k < count) {
          count--;
          pIdx[k] = pIdx[count]!;
          pVal[k] = pVal[count]!;
        }
      } else if (k < count) {
        pVal[k] = w;
      } else {
        if (count === SPARSE_PATCHES) return -1;
        pIdx[count] = j;
        pVal[count] = w;
        count++;
      }
    }
    return count;
  }

  private writeDense(d: number, o: number, src: Uint8Array, so: number, n: number): void {
    const slab = this.slabs[d >>> SLAB_SHIFT]!;
    const off = ((d & SLAB_MASK) << PAGE_SHIFT) + o;
    if (n > 64) slab.set(src.subarray(so, so + n), off);
    else for (let i = 0; i < n; i++) slab[off + i] = src[so + i]!;
  }

  private allocDense(): number {
    this.nDense++;
    const reused = this.denseFree.pop();
    if (reused !== undefined) return reused;
    const d = this.denseNext++;
    if (d >>> SLAB_SHIFT >= this.slabs.length) {
      // large zeroed allocations are lazily committed by the OS, so an unused tail costs no RSS
      const slab = new Uint8Array(PAGE_SIZE << SLAB_SHIFT);
      this.slabs.push(slab);
      this.slabWords.push(new Uint32Array(slab.buffer));
    }
    return d;
  }

  private freeCompact(s: number): void {
    this.sparse.free(s);
    this.nCompact--;
  }
}
