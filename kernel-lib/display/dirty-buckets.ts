/**
 * Dirty pages counted per IOVA bucket.
 *
 * A tracked range can hold 2^28 pages (1 TiB of 4 KiB pages) or more; no chart
 * draws that many cells, so pages are grouped into at most `maxBuckets`
 * buckets of a power-of-two number of pages. From 32 pages per bucket up, a
 * bitmap word lies wholly inside one bucket and is counted with a popcount,
 * so a large bitmap costs one pass over its words.
 */
import { popcount32 } from "../../hw-emu/sim/bitmap.js";
import type { DirtyPages, DirtySync } from "./types.js";

export interface Bucketing {
  /** pages in the tracked range */
  pages: number;
  /** pages per bucket (a power of two) */
  bucketPages: number;
  buckets: number;
}

/** Pages a sync's data can describe: bits of a bitmap, or the highest index plus one. */
export function pagesSpanned(dirty: DirtyPages): number {
  if (dirty instanceof Uint32Array) return dirty.length * 32;
  if (dirty instanceof Uint8Array) return dirty.length * 8;
  let max = -1;
  for (const i of dirty) if (i > max) max = i;
  return max + 1;
}

export function chooseBucketing(syncs: readonly DirtySync[], pages: number | undefined, maxBuckets: number): Bucketing {
  if (!Number.isInteger(maxBuckets) || maxBuckets < 1) throw new Error(`maxBuckets must be a positive integer, got ${maxBuckets}`);
  const total = pages ?? Math.max(0, ...syncs.map((s) => pagesSpanned(s.dirty)));
  if (!Number.isSafeInteger(total) || total < 1) throw new Error("a dirty-page heat map needs a range of at least one page (give `pages`)");
  let bucketPages = 1;
  while (bucketPages * maxBuckets < total) bucketPages *= 2;
  return { pages: total, bucketPages, buckets: Math.ceil(total / bucketPages) };
}

function outOfRange(sync: number, page: number, pages: number): Error {
  return new Error(`sync ${sync} marks page ${page} dirty, beyond the ${pages} pages of the range`);
}

/** Count one bitmap whose elements hold `bits` bits each (8 or 32). */
function countBitmap(words: Uint8Array | Uint32Array, bits: 8 | 32, b: Bucketing, counts: Float64Array, sync: number): void {
  const wholeWords = b.bucketPages % bits === 0;
  for (let w = 0; w < words.length; w++) {
    let x = words[w]!;
    if (x === 0) continue;
    const base = w * bits;
    if (wholeWords && base + bits <= b.pages) {
      counts[Math.floor(base / b.bucketPages)]! += popcount32(x);
      continue;
    }
    while (x !== 0) {
      const low = x & -x;
      const page = base + 31 - Math.clz32(low);
      if (page >= b.pages) throw outOfRange(sync, page, b.pages);
      counts[Math.floor(page / b.bucketPages)]! += 1;
      x = (x ^ low) >>> 0;
    }
  }
}

/** Dirty pages per bucket for one sync. */
export function countBuckets(dirty: DirtyPages, b: Bucketing, sync: number): Float64Array {
  const counts = new Float64Array(b.buckets);
  if (dirty instanceof Uint32Array) countBitmap(dirty, 32, b, counts, sync);
  else if (dirty instanceof Uint8Array) countBitmap(dirty, 8, b, counts, sync);
  else {
    for (const page of dirty) {
      if (!Number.isInteger(page) || page < 0) throw new Error(`sync ${sync}: dirty page index ${page} is not a non-negative integer`);
      if (page >= b.pages) throw outOfRange(sync, page, b.pages);
      counts[Math.floor(page / b.bucketPages)]! += 1;
    }
  }
  return counts;
}
