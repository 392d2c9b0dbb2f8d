/**
 * Helpers over flat bitmaps held in Uint32Arrays: bit n is bit (n & 31) of word n >>> 5,
 * which is also the byte layout of a little-endian u64 bitmap as the uAPI uses.
 * Word-at-a-time loops that skip zero words; no BigInt.
 */

/** words needed for `bits` bits */
export function bitmapWords(bits: number): number {
  return Math.ceil(bits / 32);
}

export function testBit(words: Uint32Array, n: number): boolean {
  return ((words[n >>> 5]! >>> (n & 31)) & 1) === 1;
}

export function setBit(words: Uint32Array, n: number): void {
  words[n >>> 5] = words[n >>> 5]! | (1 << (n & 31));
}

export function clearBit(words: Uint32Array, n: number): void {
  words[n >>> 5] = words[n >>> 5]! & ~(1 << (n & 31));
}

/** mask of bits [lo, hi) inside one word, 0 <= lo < hi <= 32 */
export function wordMask(lo: number, hi: number): number {
  const upper = hi === 32 ? 0xffffffff : (1 << hi) - 1;
  return (upper & ~((1 << lo) - 1)) >>> 0;
}

/** Set bits [start, start+count). */
export function setBits(words: Uint32Array, start: number, count: number): void {
  applyRange(words, start, count, true);
}

/** Clear bits [start, start+count). */
export function clearBits(words: Uint32Array, start: number, count: number): void {
  applyRange(words, start, count, false);
}

function applyRange(words: Uint32Array, start: number, count: number, set: boolean): void {
  if (count <= 0) return;
  const end = start + count;
  let w = Math.floor(start / 32);
  const wEnd = Math.floor((end - 1) / 32);
  const lo = start - w * 32;
  if (w === wEnd) {
    const m = wordMask(lo, end - w * 32);
    words[w] = set ? words[w]! | m : words[w]! & ~m;
    return;
  }
  const m0 = wordMask(lo, 32);
  words[w] = set ? words[w]! | m0 : words[w]! & ~m0;
  w++;
  if (wEnd > w) words.fill(set ? 0xffffffff : 0, w, wEnd);
  const m1 = wordMask(0, end - wEnd * 32);
  words[wEnd] = set ? words[wEnd]! | m1 : words[wEnd]! & ~m1;
}

/** population count of one 32-bit word */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** number of set bits in the whole bitmap */
export function countBits(words: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < words.length; i++) {
    const x = words[i]!;
    if (x !== 0) n += popcount32(x);
  }
  return n;
}

/** Calls `fn(n)` for every set bit n, ascending. */
export function forEachSetBit(words: Uint32Array, fn: (bit: number) => void): void {
  for (let i = 0; i < words.length; i++) {
    let x = words[i]!;
    while (x !== 0) {
      const low = x & -x;
      fn(i * 32 + 31 - Math.clz32(low));
      x ^= low;
    }
  }
}

/** Indices of set bits, ascending (for small bitmaps and tests). */
export function setBitIndices(words: Uint32Array): number[] {
  const out: number[] = [];
  forEachSetBit(words, (n) => out.push(n));
  return out;
}

/** A run of consecutive set bits. */
export interface BitRun {
  start: number;
  length: number;
}

/** Maximal runs of set bits, ascending: cheap to plot or send for clustered dirtiness. */
export function setBitRuns(words: Uint32Array): BitRun[] {
  const runs: BitRun[] = [];
  let runStart = -1;
  for (let i = 0; i < words.length; i++) {
    const x = words[i]!;
    if (x === 0) {
      if (runStart >= 0) {
        runs.push({ start: runStart, length: i * 32 - runStart });
        runStart = -1;
      }
      continue;
    }
    if (x === 0xffffffff) {
      if (runStart < 0) runStart = i * 32;
      continue;
    }
    for (let b = 0; b < 32; b++) {
      const on = ((x >>> b) & 1) === 1;
      const n = i * 32 + b;
      if (on && runStart < 0) runStart = n;
      else if (!on && runStart >= 0) {
        runs.push({ start: runStart, length: n - runStart });
        runStart = -1;
      }
    }
  }
  if (runStart >= 0) runs.push({ start: runStart, length: words.length * 32 - runStart });
  return runs;
}

/** index of the lowest set bit of a 64-bit value (the kernel's __ffs); callers reject 0 first */
export function lowestBit(x: bigint): number {
  let n = 0;
  while (x > 0n && (x & 1n) === 0n) {
    x >>= 1n;
    n++;
  }
  return n;
}
