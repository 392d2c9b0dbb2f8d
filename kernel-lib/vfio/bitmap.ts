/**
 * Dirty bitmaps as the uAPI returns them: bit n <-> the page at
 * `iova + n * pageSize`, little-endian u64 words (read here as u32 words,
 * which is the same bit order).
 */
export class DirtyBitmap {
  readonly words: Uint32Array;

  constructor(
    readonly iova: bigint,
    readonly length: bigint,
    readonly pageSize: number,
    /** the bytes the kernel filled (a whole number of u64 words) */
    readonly bytes: Uint8Array,
  ) {
    this.words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  }

  /** a zeroed bitmap big enough for [iova, iova+length) at pageSize (rounded up to u64 words) */
  static empty(iova: bigint, length: bigint, pageSize: number): DirtyBitmap {
    const pages = Number((length + BigInt(pageSize) - 1n) / BigInt(pageSize));
    return new DirtyBitmap(iova, length, pageSize, new Uint8Array(Math.ceil(pages / 64) * 8));
  }

  get pages(): number {
    return Number((this.length + BigInt(this.pageSize) - 1n) / BigInt(this.pageSize));
  }

  isDirty(page: number): boolean {
    return ((this.words[page >>> 5]! >>> (page & 31)) & 1) === 1;
  }

  /** number of dirty pages (skips zero words) */
  count(): number {
    let n = 0;
    for (let i = 0; i < this.words.length; i++) {
      let w = this.words[i]!;
      while (w) {
        w &= w - 1;
        n++;
      }
    }
    return n;
  }

  /** indexes of dirty pages, ascending */
  dirtyPages(limit = Number.POSITIVE_INFINITY): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.words.length && out.length < limit; i++) {
      let w = this.words[i]!;
      while (w && out.length < limit) {
        const b = 31 - Math.clz32(w & -w);
        out.push(i * 32 + b);
        w &= w - 1;
      }
    }
    return out;
  }

  /** OR another bitmap of the same geometry into this one */
  merge(other: DirtyBitmap): void {
    if (other.iova !== this.iova || other.pageSize !== this.pageSize || other.words.length !== this.words.length) {
      throw new Error("cannot merge dirty bitmaps of different ranges or page sizes");
    }
    for (let i = 0; i < this.words.length; i++) this.words[i]! |= other.words[i]!;
  }
}
