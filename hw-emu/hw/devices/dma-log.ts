/**
 * A device's own DMA write log: page-granular dirty bits over the IOVA ranges
 * it was asked to track, at a granularity it chooses within its limits, and
 * reported at any power-of-two page size >= 4 KiB (bits are replicated when
 * the report is finer than the log, merged when it is coarser).
 *
 * Reporting clears the log pages that lie wholly inside the reported range;
 * a log page only partly covered stays dirty, so a later report of the rest
 * still sees it (over-reporting is safe, under-reporting is not).
 *
 * The log is a sparse bitmap with one bit per log page, so a report over a
 * large range at the log's own granularity (or coarser) is a word copy, not a
 * walk over dirty pages.
 */
import { setBits } from "../../sim/bitmap.js";
import { ChunkedBitmap } from "../bitmap-chunked.js";
import { DmaLogError, type DeviceDmaLog, type DmaLogRange } from "./migration.js";

export interface PageDirtyLogOptions {
  /** smallest / largest log granularity the device supports (defaults 4 KiB / 2 MiB) */
  minPageSize?: number;
  maxPageSize?: number;
  /** ranges the device can track at once; more are merged (default 256) */
  maxRanges?: number;
}

/** The core's limit on num_ranges (PAGE_SIZE / sizeof(range) on 4 KiB hosts). */
export const DMA_LOG_MAX_REQUEST_RANGES = 256;

function isPow2(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

export class PageDirtyLog implements DeviceDmaLog {
  private readonly minPage: number;
  private readonly maxPage: number;
  private readonly maxRanges: number;
  private tracked: DmaLogRange[] = [];
  private granule = 0;
  private on = false;
  /** bit p <-> the log page [p * granule, (p + 1) * granule) */
  private readonly dirty = new ChunkedBitmap();

  constructor(opts: PageDirtyLogOptions = {}) {
    this.minPage = opts.minPageSize ?? 4096;
    this.maxPage = opts.maxPageSize ?? 2 * 1024 * 1024;
    this.maxRanges = opts.maxRanges ?? 256;
    if (!isPow2(this.minPage) || !isPow2(this.maxPage) || this.minPage > this.maxPage) throw new RangeError("bad DMA log page size limits");
  }

  get active(): boolean {
    return this.on;
  }

  get pageSize(): number {
    return this.granule;
  }

  get ranges(): readonly DmaLogRange[] {
    return this.tracked;
  }

  /** number of dirty log pages (lab view) */
  get dirtyPageCount(): number {
    return this.dirty.count();
  }

  start(ranges: readonly DmaLogRange[], pageSize: number): number {
    if (this.on) throw new DmaLogError("busy", "DMA logging is already active");
    if (ranges.length === 0) throw new DmaLogError("invalid", "no ranges to track");
    if (ranges.length > DMA_LOG_MAX_REQUEST_RANGES) throw new DmaLogError("too-many-ranges", `${ranges.length} ranges (limit ${DMA_LOG_MAX_REQUEST_RANGES})`);
    if (!Number.isSafeInteger(pageSize) || pageSize <= 0) throw new DmaLogError("invalid", `page size ${pageSize}`);
    // The device picks the nearest power of two it supports.
    let g = isPow2(pageSize) ? pageSize : 2 ** Math.ceil(Math.log2(pageSize));
    g = Math.min(this.maxPage, Math.max(this.minPage, g));
    const sorted = ranges.map((r) => ({ iova: r.iova, length: r.length })).sort((a, b) => a.iova - b.iova);
    for (let i = 0; i < sorted.length; i++) {
      const r = sorted[i]!;
      if (!Number.isSafeInteger(r.iova) || !Number.isSafeInteger(r.length) || r.iova < 0 || r.length <= 0) {
        throw new DmaLogError("invalid", `bad range iova=${r.iova} length=${r.length}`);
      }
      if (i > 0 && sorted[i - 1]!.iova + sorted[i - 1]!.length > r.iova) throw new DmaLogError("invalid", "overlapping ranges");
    }
    // Like hardware with a small range table: merge the closest neighbours until it fits.
    while (sorted.length > this.maxRanges) {
      let best = 0;
      let bestGap = Infinity;
      for (let i = 0; i + 1 < sorted.length; i++) {
        const gap = sorted[i + 1]!.iova - (sorted[i]!.iova + sorted[i]!.length);
        if (gap < bestGap) {
          bestGap = gap;
          best = i;
        }
      }
      const a = sorted[best]!;
      const b = sorted[best + 1]!;
      sorted.splice(best, 2, { iova: a.iova, length: b.iova + b.length - a.iova });
    }
    this.tracked = sorted;
    this.granule = g;
    this.dirty.clearAll();
    this.on = true;
    return g;
  }

  stop(): void {
    // Stopping when inactive is harmless.
    this.on = false;
    this.tracked = [];
    this.dirty.clearAll();
    this.granule = 0;
  }

  /** Whether logging is on and [iova, iova+length) touches a tracked range. */
  covers(iova: number, length: number): boolean {
    if (!this.on || length <= 0) return false;
    const end = iova + length;
    return this.tracked.some((r) => Math.max(iova, r.iova) < Math.min(end, r.iova + r.length));
  }

  /** Called for every DMA write the device performed. */
  record(iova: number, length: number): void {
    if (!this.covers(iova, length)) return;
    const end = iova + length;
    const g = this.granule;
    for (const r of this.tracked) {
      const s = Math.max(iova, r.iova);
      const e = Math.min(end, r.iova + r.length);
      if (s >= e) continue;
      const first = Math.floor(s / g);
      this.dirty.setRange(first, Math.floor((e - 1) / g) - first + 1);
    }
  }

  report(iova: number, length: number, pageSize: number, bitmap: Uint32Array): void {
    if (!this.on) throw new DmaLogError("inactive", "DMA logging is not active");
    if (!isPow2(pageSize) || pageSize < 4096) throw new DmaLogError("invalid", `report page size ${pageSize}`);
    if (!Number.isSafeInteger(iova) || !Number.isSafeInteger(length) || iova < 0 || length < 0) throw new DmaLogError("invalid", "bad report range");
    if (length === 0) return;
    const bits = Math.ceil(length / pageSize);
    if (bitmap.length * 32 < bits) throw new DmaLogError("invalid", `bitmap holds ${bitmap.length * 32} bits, report needs ${bits}`);
    const g = this.granule;
    const end = iova + length;
    const firstPage = Math.floor(iova / g);
    const lastPage = Math.floor((end - 1) / g);
    // log pages wholly inside the range; only these are cleared
    const fullFirst = Math.ceil(iova / g);
    const fullLast = Math.floor(end / g) - 1;
    // a partly covered page sets the report pages its covered part overlaps, and stays dirty
    const partial = (p: number) => {
      if (!this.dirty.test(p)) return;
      const s = Math.max(p * g, iova);
      const e = Math.min((p + 1) * g, end);
      const b = Math.floor((s - iova) / pageSize);
      setBits(bitmap, b, Math.floor((e - 1 - iova) / pageSize) - b + 1);
    };
    if (firstPage < fullFirst || firstPage > fullLast) partial(firstPage);
    if (lastPage !== firstPage && lastPage > fullLast) partial(lastPage);
    if (fullLast < fullFirst) return;
    if (pageSize >= g && iova % g === 0) {
      // every log page lies inside one report page: bit n of the report merges log pages
      // [fullFirst + n * pageSize / g, ...), which the bitmap harvests directly
      this.dirty.harvest(fullFirst, fullLast - fullFirst + 1, Math.log2(pageSize / g), bitmap, true);
      return;
    }
    // a log page spans several report pages, or straddles report-page boundaries
    this.dirty.forEachSet(fullFirst, fullLast - fullFirst + 1, true, (p) => {
      const b = Math.floor((p * g - iova) / pageSize);
      setBits(bitmap, b, Math.floor(((p + 1) * g - 1 - iova) / pageSize) - b + 1);
    });
  }
}
