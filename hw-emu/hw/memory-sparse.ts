/**
 * Storage for compact pages: a page that is one 32-bit fill word repeated, with at most
 * SPARSE_PATCHES words that differ. Kept in chunked flat typed arrays (no object per page)
 * so millions of lightly written pages cost a few dozen bytes each.
 */

/** most patched words a compact page may hold before it is stored as a full 4 KiB page */
export const SPARSE_PATCHES = 6;
const CHUNK_SHIFT = 16;
const CHUNK = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK - 1;

/** bytes of storage per compact page */
export const SPARSE_BYTES_PER_PAGE = 4 + 1 + SPARSE_PATCHES * (2 + 4);

export class SparseStore {
  private fills: Uint32Array[] = [];
  private counts: Uint8Array[] = [];
  private idx: Uint16Array[] = [];
  private vals: Uint32Array[] = [];
  private next = 0;
  private freeList: number[] = [];

  /** number of slots ever created (live + free) */
  get capacity(): number {
    return this.fills.length * CHUNK;
  }

  get byteLength(): number {
    return this.fills.length * CHUNK * SPARSE_BYTES_PER_PAGE;
  }

  alloc(fill: number): number {
    let s = this.freeList.pop();
    if (s === undefined) {
      s = this.next++;
      if ((s >>> CHUNK_SHIFT) >= this.fills.length) {
        this.fills.push(new Uint32Array(CHUNK));
        this.counts.push(new Uint8Array(CHUNK));
        this.idx.push(new Uint16Array(CHUNK * SPARSE_PATCHES));
        this.vals.push(new Uint32Array(CHUNK * SPARSE_PATCHES));
      }
    }
    this.fills[s >>> CHUNK_SHIFT]![s & CHUNK_MASK] = fill;
    this.counts[s >>> CHUNK_SHIFT]![s & CHUNK_MASK] = 0;
    return s;
  }

  free(s: number): void {
    this.freeList.push(s);
  }

  fill(s: number): number {
    return this.fills[s >>> CHUNK_SHIFT]![s & CHUNK_MASK]!;
  }

  count(s: number): number {
    return this.counts[s >>> CHUNK_SHIFT]![s & CHUNK_MASK]!;
  }

  /** word position of patch k */
  patchIndex(s: number, k: number): number {
    return this.idx[s >>> CHUNK_SHIFT]![(s & CHUNK_MASK) * SPARSE_PATCHES + k]!;
  }

  patchValue(s: number, k: number): number {
    return this.vals[s >>> CHUNK_SHIFT]![(s & CHUNK_MASK) * SPARSE_PATCHES + k]!;
  }

  /** replace the whole content: fill word plus `n` patches from the given arrays */
  store(s: number, fill: number, n: number, index: Uint16Array, value: Uint32Array): void {
    const c = s >>> CHUNK_SHIFT;
    const i = s & CHUNK_MASK;
    this.fills[c]![i] = fill;
    this.counts[c]![i] = n;
    const base = i * SPARSE_PATCHES;
    const ix = this.idx[c]!;
    const vs = this.vals[c]!;
    for (let k = 0; k < n; k++) {
      ix[base + k] = index[k]!;
      vs[base + k] = value[k]!;
    }
  }
}
