/**
 * The orchestrator's dirty set: one bit per guest page, the union of what the CPU
 * dirty log and the device-side trackers reported since the last copy. Bitmaps
 * from the uAPI are ORed in word by word, skipping zero words; taking the pages
 * out clears only the words that had bits, so a sparse 1 TiB set costs a scan of
 * its 8 M words and no more. "Everything dirty" (the bulk copy, or type1) is a
 * flag, never 2^28 set bits walked one by one.
 */
import { popcount32 } from "../../hw-emu/sim/bitmap.js";

export class DirtySet {
  readonly words: Uint32Array;
  private everything = false;
  /** whether any word may be non-zero (so clearing is needed) */
  private touched = false;

  constructor(readonly pages: number) {
    this.words = new Uint32Array(Math.ceil(pages / 32));
  }

  /** mark every page dirty */
  setAll(): void {
    this.everything = true;
  }

  get all(): boolean {
    return this.everything;
  }

  /**
   * OR a uAPI bitmap (bit n = page n) in; returns how many bits it had set within the
   * set's pages. With `consume`, the words taken are zeroed in `bits` (a reused scratch
   * bitmap then never needs a full clear, and its untouched pages stay uncommitted).
   */
  or(bits: Uint32Array, consume = false): number {
    const acc = this.words;
    const n = Math.min(acc.length, bits.length);
    let count = 0;
    const last = acc.length - 1;
    const tailMask = this.pages % 32 === 0 ? 0xffffffff : (1 << this.pages % 32) - 1;
    for (let i = 0; i < n; i++) {
      let w = bits[i]!;
      if (w === 0) continue;
      if (consume) bits[i] = 0;
      if (i === last) w &= tailMask;
      acc[i] = acc[i]! | w;
      count += popcount32(w);
    }
    if (consume) for (let i = n; i < bits.length; i++) bits[i] = 0;
    if (count > 0) this.touched = true;
    if (count === this.pages) this.everything = true;
    return count;
  }

  /** number of dirty pages */
  count(): number {
    if (this.everything) return this.pages;
    let n = 0;
    const acc = this.words;
    for (let i = 0; i < acc.length; i++) {
      const w = acc[i]!;
      if (w !== 0) n += popcount32(w);
    }
    return n;
  }

  /** Count the dirty pages and mark them, coarsely, in `out` (a CoarseDirty bitmap). */
  scan(coarse: CoarseDirty, out: Uint32Array): number {
    if (this.everything) {
      coarse.markAll(out);
      return this.pages;
    }
    let n = 0;
    const acc = this.words;
    for (let i = 0; i < acc.length; i++) {
      const w = acc[i]!;
      if (w === 0) continue;
      n += popcount32(w);
      if (coarse.shift >= 5) coarse.mark(out, i * 32);
      else for (let x = w; x !== 0; x &= x - 1) coarse.mark(out, i * 32 + 31 - Math.clz32(x & -x));
    }
    return n;
  }

  has(page: number): boolean {
    return this.everything || ((this.words[page >>> 5]! >>> (page & 31)) & 1) === 1;
  }

  /**
   * Take the dirty pages out, clearing the set. `fn` is called for every dirty
   * page that is in `candidates` (ascending page numbers, e.g. the pages ever
   * written) when the set is large, or for every dirty page otherwise, in
   * ascending order. Returns the number of dirty pages.
   */
  drain(candidates: () => Float64Array, fn: (page: number) => void, countHint?: number): number {
    const count = countHint ?? this.count();
    const acc = this.words;
    if (this.everything || count > 1 << 16) {
      const list = candidates();
      if (this.everything || count >= list.length) {
        for (let i = 0; i < list.length; i++) {
          const p = list[i]!;
          if (this.everything || ((acc[p >>> 5]! >>> (p & 31)) & 1) === 1) fn(p);
        }
        this.clear();
        return count;
      }
    }
    for (let i = 0; i < acc.length; i++) {
      let w = acc[i]!;
      if (w === 0) continue;
      acc[i] = 0;
      while (w !== 0) {
        const low = w & -w;
        fn(i * 32 + 31 - Math.clz32(low));
        w ^= low;
      }
    }
    this.everything = false;
    this.touched = false;
    return count;
  }

  clear(): void {
    this.everything = false;
    if (!this.touched) return;
    this.touched = false;
    const acc = this.words;
    for (let i = 0; i < acc.length; i++) if (acc[i] !== 0) acc[i] = 0;
  }
}

/**
 * A coarse copy of dirty sets for heat maps: at most `maxBits` bits over the guest,
 * each standing for a power-of-two run of pages.
 */
export class CoarseDirty {
  readonly shift: number;
  readonly bits: number;

  constructor(pages: number, maxBits = 4096) {
    let shift = 0;
    while (Math.ceil(pages / 2 ** shift) > maxBits) shift++;
    this.shift = shift;
    this.bits = Math.ceil(pages / 2 ** shift);
  }

  /** bytes of guest RAM one bit stands for */
  get pageSize(): number {
    return 4096 * 2 ** this.shift;
  }

  empty(): Uint32Array {
    return new Uint32Array(Math.ceil(this.bits / 32));
  }

  mark(out: Uint32Array, page: number): void {
    const b = Math.floor(page / 2 ** this.shift);
    out[b >>> 5] = out[b >>> 5]! | (1 << (b & 31));
  }

  markAll(out: Uint32Array): void {
    for (let b = 0; b < this.bits; b++) out[b >>> 5] = out[b >>> 5]! | (1 << (b & 31));
  }
}
