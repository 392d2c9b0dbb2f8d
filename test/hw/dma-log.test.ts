/**
 * The device DMA log (PageDirtyLog) against a plain model of its documented behaviour: a set
 * of dirty log pages; a report sets the report pages each dirty log page's covered part
 * overlaps, and clears only the log pages wholly inside the reported range.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { setBitIndices } from "../../hw-emu/sim/bitmap.js";
import { PageDirtyLog } from "../../hw-emu/hw/devices/dma-log.js";

class ModelLog {
  readonly dirty = new Set<number>();
  constructor(
    readonly g: number,
    readonly ranges: { iova: number; length: number }[],
  ) {}

  record(iova: number, length: number): void {
    const end = iova + length;
    for (const r of this.ranges) {
      const s = Math.max(iova, r.iova);
      const e = Math.min(end, r.iova + r.length);
      for (let p = Math.floor(s / this.g); s < e && p <= Math.floor((e - 1) / this.g); p++) this.dirty.add(p);
    }
  }

  report(iova: number, length: number, pageSize: number, bitmap: Uint32Array): void {
    const end = iova + length;
    for (const p of [...this.dirty]) {
      const ps = p * this.g;
      const pe = ps + this.g;
      if (pe <= iova || ps >= end) continue;
      const s = Math.max(ps, iova);
      const e = Math.min(pe, end);
      for (let b = Math.floor((s - iova) / pageSize); b <= Math.floor((e - 1 - iova) / pageSize); b++) bitmap[b >>> 5] = bitmap[b >>> 5]! | (1 << (b & 31));
      if (ps >= iova && pe <= end) this.dirty.delete(p);
    }
  }
}

// close to the 4 GiB boundary between two chunks of the log's bitmap at 4 KiB
const BASE = 2 ** 32 - 2 ** 20;
const SPAN = 2 ** 21;

describe("PageDirtyLog", () => {
  it("reports and clears as the page-set model does, for any granule, window and report page size (property)", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("record" as const), at: fc.integer({ min: 0, max: SPAN - 1 }), length: fc.integer({ min: 1, max: 0x6000 }) }),
      fc.record({
        kind: fc.constant("report" as const),
        // report windows need not be aligned to the log page or the report page
        at: fc.integer({ min: 0, max: SPAN / 512 - 1 }).map((x) => x * 512),
        length: fc.integer({ min: 1, max: SPAN / 512 }).map((x) => x * 512),
        pageShift: fc.constantFrom(12, 13, 14, 16, 20),
        stale: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom(4096, 8192, 65536, 0x20_0000), fc.array(op, { minLength: 1, maxLength: 40 }), (granule, ops) => {
        const ranges = [
          { iova: BASE, length: SPAN / 2 },
          { iova: BASE + SPAN / 2 + 0x20_0000, length: SPAN / 2 },
        ];
        const log = new PageDirtyLog();
        expect(log.start(ranges, granule)).toBe(granule);
        const model = new ModelLog(granule, ranges);
        for (const o of ops) {
          if (o.kind === "record") {
            log.record(BASE + o.at, o.length);
            model.record(BASE + o.at, o.length);
          } else {
            const ps = 2 ** o.pageShift;
            const words = Math.ceil(Math.ceil(o.length / ps) / 32);
            const got = new Uint32Array(words);
            const want = new Uint32Array(words);
            if (o.stale) {
              got[0] = want[0] = 0x8000_0001;
            }
            log.report(BASE + o.at, o.length, ps, got);
            model.report(BASE + o.at, o.length, ps, want);
            expect(setBitIndices(got)).toEqual(setBitIndices(want));
          }
          expect(log.dirtyPageCount).toBe(model.dirty.size);
        }
      }),
      { seed: 42, numRuns: 150 },
    );
  });

  it("reports a few pages spread over a 256 TiB range at 1 GiB pages, and clears them", () => {
    const log = new PageDirtyLog();
    log.start([{ iova: 0, length: 2 ** 48 }], 4096);
    for (const a of [0x1000, 2 ** 40 + 0x5000, 2 ** 47 - 4096]) log.record(a, 8);
    expect(log.dirtyPageCount).toBe(3);
    const bm = new Uint32Array(2 ** 18 / 32);
    log.report(0, 2 ** 48, 2 ** 30, bm);
    expect(setBitIndices(bm)).toEqual([0, 2 ** 10, 2 ** 17 - 1]);
    expect(log.dirtyPageCount).toBe(0);
  });

  it("keeps a partly reported log page dirty until a report covers all of it", () => {
    const log = new PageDirtyLog();
    log.start([{ iova: 0, length: 0x40_0000 }], 0x20_0000);
    log.record(0x10_0000, 4);
    // [512 KiB, 1.5 MiB) lies inside the dirty 2 MiB log page: all of it is reported, nothing cleared
    const first = new Uint32Array(8);
    log.report(0x8_0000, 0x10_0000, 4096, first);
    expect(setBitIndices(first)).toEqual(Array.from({ length: 256 }, (_, i) => i));
    expect(log.dirtyPageCount).toBe(1);
    const half = new Uint32Array(8);
    log.report(0x10_0000, 0x10_0000, 0x2000, half);
    expect(setBitIndices(half)).toEqual(Array.from({ length: 128 }, (_, i) => i));
    expect(log.dirtyPageCount).toBe(1);
    const whole = new Uint32Array(1);
    log.report(0, 0x20_0000, 0x20_0000, whole);
    expect(whole[0]).toBe(1);
    expect(log.dirtyPageCount).toBe(0);
  });
});
