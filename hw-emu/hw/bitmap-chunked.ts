/**
 * A sparse bitmap over a large index space (one bit per 4 KiB IOVA granule, up to 2^36
 * granules for a 48-bit IOVA space), stored as 128 KiB Uint32Array chunks allocated on the
 * first set bit. Missing chunks are all zeros, so an idle or clean range costs nothing to
 * scan, and a 1 TiB range is at most 32 MiB of words.
 */
import { Buffer } from "node:buffer";
import { popcount32, wordMask } from "../sim/bitmap.js";

/** granules per chunk: 2^20 (4 GiB of IOVA at 4 KiB) */
export const CHUNK_BITS = 1 << 20;
const CHUNK_WORDS = CHUNK_BITS / 32;
const ZERO_BYTES = Buffer.alloc(CHUNK_WORDS * 4);

export class ChunkedBitmap {
  private readonly chunks = new Map<number, Uint32Array>();

  /** bytes held by allocated chunks */
  get byteLength(): number {
    return this.chunks.size * CHUNK_WORDS * 4;
  }

  test(g: number): boolean {
    const c = this.chunks.get(Math.floor(g / CHUNK_BITS));
    if (!c) return false;
    const r = g % CHUNK_BITS;
    return ((c[r >>> 5]! >>> (r & 31)) & 1) === 1;
  }

  /** Set bits [g0, g0+count). */
  setRange(g0: number, count: number): void {
    const end = g0 + count;
    let g = g0;
    while (g < end) {
      const ci = Math.floor(g / CHUNK_BITS);
      const base = ci * CHUNK_BITS;
      const stop = Math.min(end, base + CHUNK_BITS);
      let c = this.chunks.get(ci);
      if (!c) {
        c = new Uint32Array(CHUNK_WORDS);
        this.chunks.set(ci, c);
      }
      this.apply(c, g - base, stop - base, true);
      g = stop;
    }
  }

  /** Clear bits [g0, g0+count); chunks cleared entirely are released. */
  clearRange(g0: number, count: number): void {
    const end = g0 + count;
    let g = g0;
    while (g < end) {
      const ci = Math.floor(g / CHUNK_BITS);
      const base = ci * CHUNK_BITS;
      const stop = Math.min(end, base + CHUNK_BITS);
      const c = this.chunks.get(ci);
      if (c) {
        if (g === base && stop === base + CHUNK_BITS) this.chunks.delete(ci);
        else this.apply(c, g - base, stop - base, false);
      }
      g = stop;
    }
  }

  clearAll(): void {
    this.chunks.clear();
  }

  /** number of set bits (walks only allocated chunks, skipping zero words) */
  count(): number {
    let n = 0;
    for (const c of this.chunks.values()) {
      for (let i = 0; i < c.length; i++) {
        const x = c[i]!;
        if (x !== 0) n += popcount32(x);
      }
    }
    return n;
  }

  /**
   * Call `fn(g)` for every set bit g in [g0, g0+count), ascending; with `clear`, those bits
   * are cleared as they are visited. Visits only allocated chunks, so a sparse bitmap over a
   * huge range costs what it holds, not what it spans.
   */
  forEachSet(g0: number, count: number, clear: boolean, fn: (g: number) => void): void {
    if (count <= 0 || this.chunks.size === 0) return;
    const end = g0 + count;
    const firstChunk = Math.floor(g0 / CHUNK_BITS);
    const lastChunk = Math.floor((end - 1) / CHUNK_BITS);
    let ids: number[];
    if (lastChunk - firstChunk + 1 <= this.chunks.size) {
      ids = [];
      for (let ci = firstChunk; ci <= lastChunk; ci++) if (this.chunks.has(ci)) ids.push(ci);
    } else {
      ids = [...this.chunks.keys()].filter((ci) => ci >= firstChunk && ci <= lastChunk).sort((a, b) => a - b);
    }
    for (const ci of ids) {
      const c = this.chunks.get(ci)!;
      const base = ci * CHUNK_BITS;
      const lo = Math.max(g0, base) - base;
      const hi = Math.min(end, base + CHUNK_BITS) - base;
      const w0 = lo >>> 5;
      const w1 = (hi - 1) >>> 5;
      for (let w = w0; w <= w1; w++) {
        let x = c[w]!;
        if (x === 0) continue;
        const m = wordMask(w === w0 ? lo & 31 : 0, w === w1 ? hi - w * 32 : 32);
        x &= m;
        if (x === 0) continue;
        if (clear) c[w] = c[w]! & ~m;
        const wg = base + w * 32;
        while (x !== 0) {
          const low = x & -x;
          fn(wg + 31 - Math.clz32(low));
          x ^= low;
        }
      }
    }
  }

  /**
   * OR the bits of [g0, g0+count) into `out`, where output bit n stands for granules
   * [g0 + n*2^shift, g0 + (n+1)*2^shift): a bit is set if any of its granules is set.
   * Never clears bits of `out`. With `clear`, the harvested bits are cleared here.
   */
  harvest(g0: number, count: number, shift: number, out: Uint32Array, clear: boolean): void {
    const end = g0 + count;
    let g = g0;
    while (g < end) {
      const ci = Math.floor(g / CHUNK_BITS);
      const base = ci * CHUNK_BITS;
      const stop = Math.min(end, base + CHUNK_BITS);
      const c = this.chunks.get(ci);
      if (c) {
        const whole = g === base && stop === base + CHUNK_BITS;
        if (shift === 0 && (g0 & 31) === 0) this.harvestAligned(c, g - base, stop - base, (base - g0) / 32, out, clear && !whole);
        else this.harvestGeneral(c, base, g - base, stop - base, g0, shift, out, clear && !whole);
        // a fully harvested chunk is dropped rather than zeroed: cheaper, and frees memory
        if (clear && whole) this.chunks.delete(ci);
      }
      g = stop;
    }
  }

  /** granule-aligned 1:1 copy: output word (o + w) receives chunk word w */
  private harvestAligned(c: Uint32Array, lo: number, hi: number, o: number, out: Uint32Array, clear: boolean): void {
    const w0 = lo >>> 5;
    const wFull = hi >>> 5;
    const n = wFull - w0;
    if (n > 0) {
      const at = o + w0;
      // Callers usually pass a zeroed bitmap. Then OR is a copy, and a native compare plus
      // a native copy beat any JS word loop (a zero-skip loop mispredicts on scattered bits).
      const seg = Buffer.from(out.buffer, out.byteOffset + at * 4, n * 4);
      if (seg.equals(ZERO_BYTES.subarray(0, n * 4))) out.set(c.subarray(w0, wFull), at);
      else for (let i = 0; i < n; i++) out[at + i] = out[at + i]! | c[w0 + i]!;
      if (clear) c.fill(0, w0, wFull);
    }
    const tail = hi & 31;
    if (tail !== 0) {
      const m = wordMask(0, tail);
      const x = c[wFull]! & m;
      if (x !== 0) {
        out[o + wFull] = out[o + wFull]! | x;
        if (clear) c[wFull] = c[wFull]! & ~m;
      }
    }
  }

  private harvestGeneral(
    c: Uint32Array,
    base: number,
    lo: number,
    hi: number,
    g0: number,
    shift: number,
    out: Uint32Array,
    clear: boolean,
  ): void {
    const w0 = lo >>> 5;
    const w1 = (hi - 1) >>> 5;
    const per = 2 ** shift;
    for (let w = w0; w <= w1; w++) {
      let x = c[w]!;
      if (x === 0) continue;
      const m = wordMask(w === w0 ? lo & 31 : 0, w === w1 ? hi - w * 32 : 32);
      x &= m;
      if (x === 0) continue;
      if (clear) c[w] = c[w]! & ~m;
      const wg = base + w * 32;
      while (x !== 0) {
        const low = x & -x;
        const n = Math.floor((wg + 31 - Math.clz32(low) - g0) / per);
        const k = Math.floor(n / 32);
        out[k] = out[k]! | (1 << (n & 31));
        x ^= low;
      }
    }
  }

  private apply(c: Uint32Array, lo: number, hi: number, set: boolean): void {
    const w0 = lo >>> 5;
    const w1 = (hi - 1) >>> 5;
    if (w0 === w1) {
      const m = wordMask(lo & 31, hi - w0 * 32);
      c[w0] = set ? c[w0]! | m : c[w0]! & ~m;
      return;
    }
    const m0 = wordMask(lo & 31, 32);
    c[w0] = set ? c[w0]! | m0 : c[w0]! & ~m0;
    if (w1 > w0 + 1) c.fill(set ? 0xffffffff : 0, w0 + 1, w1);
    const m1 = wordMask(0, hi - w1 * 32);
    c[w1] = set ? c[w1]! | m1 : c[w1]! & ~m1;
  }
}
