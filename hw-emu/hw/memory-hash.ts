/**
 * Content hashes of 4 KiB pages and of whole memories.
 *
 * A page's hash is a sum, over its 1024 little-endian 32-bit words, of a strong mix of
 * (word position, word value), in two independent 32-bit lanes. Because it is a sum, the
 * hash of a page stored compactly (a fill word plus a few patched words) is computed from
 * the fill's cached hash in O(patches), and it equals the hash of the same bytes stored
 * densely. Changing any one word always changes both lanes (the mix is a bijection).
 * The finaliser is MurmurHash3's fmix32.
 */

export const WORDS_PER_PAGE = 1024;

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** lane A contribution of word value `w` at word position `i` */
export function laneA(i: number, w: number): number {
  return fmix32(w ^ Math.imul(i + 1, 0x9e3779b1));
}

/** lane B contribution of word value `w` at word position `i` */
export function laneB(i: number, w: number): number {
  return fmix32(((w + Math.imul(i + 1, 0x27d4eb2f)) | 0) ^ 0x165667b1);
}

/** Both lanes of the hash of 1024 words starting at `offset`, written to out[0], out[1]. */
export function hashPageWords(words: Uint32Array, offset: number, out: Uint32Array): void {
  let a = 0;
  let b = 0;
  for (let i = 0; i < WORDS_PER_PAGE; i++) {
    const w = words[offset + i]!;
    a = (a + laneA(i, w)) | 0;
    b = (b + laneB(i, w)) | 0;
  }
  out[0] = a;
  out[1] = b;
}

const fillCache = new Map<number, Uint32Array>();
const scratch = new Uint32Array(WORDS_PER_PAGE);

/** Hash lanes of a page whose every word is `fill` (cached: few distinct fills occur). */
export function fillHash(fill: number): Uint32Array {
  let h = fillCache.get(fill);
  if (h === undefined) {
    h = new Uint32Array(2);
    scratch.fill(fill);
    hashPageWords(scratch, 0, h);
    if (fillCache.size >= 1024) fillCache.clear();
    fillCache.set(fill, h);
  }
  return h;
}

/** hash lanes of an all-zero page */
export const ZERO_PAGE_HASH: Readonly<Uint32Array> = fillHash(0);

/**
 * Contribution of one page to a memory digest. Pages whose content is all zeros contribute
 * exactly 0, so a digest depends only on content, not on which pages happen to be allocated.
 */
export function digestTermA(pageIndex: number, a: number): number {
  return (fmix32(a ^ fmix32(pageIndex + 0x5bd1e995)) - fmix32(ZERO_PAGE_HASH[0]! ^ fmix32(pageIndex + 0x5bd1e995))) | 0;
}

export function digestTermB(pageIndex: number, b: number): number {
  const k = fmix32((pageIndex ^ 0x7feb352d) >>> 0);
  return (fmix32(b + k) - fmix32(ZERO_PAGE_HASH[1]! + k)) | 0;
}

export function hex32(x: number): string {
  return (x >>> 0).toString(16).padStart(8, "0");
}
