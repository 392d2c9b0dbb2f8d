import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dirtyHeatmap, VEGALITE_MIME } from "../../kernel-lib/display/index.js";
import { chooseBucketing, countBuckets } from "../../kernel-lib/display/dirty-buckets.js";

/** Bitmap words with the given pages set (bit b of word w is page 32w + b). */
function bitmap(pages: number, dirty: readonly number[]): Uint32Array {
  const words = new Uint32Array(Math.ceil(pages / 32));
  for (const p of dirty) words[p >>> 5]! |= 1 << (p & 31);
  return words;
}

function bytesOf(words: Uint32Array): Uint8Array {
  return new Uint8Array(words.buffer.slice(0));
}

describe("dirty page bucketing", () => {
  it("counts the same pages from bitmap words, bitmap bytes and index lists", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 200 }),
        fc.uniqueArray(fc.nat(), { maxLength: 300 }),
        (pages, maxBuckets, raw) => {
          const dirty = raw.map((p) => p % pages).filter((p, i, a) => a.indexOf(p) === i);
          const b = chooseBucketing([], pages, maxBuckets);
          expect(b.buckets).toBeLessThanOrEqual(maxBuckets);
          expect(b.buckets * b.bucketPages).toBeGreaterThanOrEqual(pages);
          const naive = new Float64Array(b.buckets);
          for (const p of dirty) naive[Math.floor(p / b.bucketPages)]! += 1;
          const words = bitmap(pages, dirty);
          expect(countBuckets(words, b, 1)).toEqual(naive);
          expect(countBuckets(bytesOf(words), b, 1)).toEqual(naive);
          expect(countBuckets(dirty, b, 1)).toEqual(naive);
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it("refuses dirty pages beyond the range", () => {
    const b = chooseBucketing([], 40, 8);
    expect(() => countBuckets([40], b, 3)).toThrow(/sync 3 marks page 40 dirty, beyond the 40 pages/);
    expect(() => countBuckets(bitmap(64, [63]), b, 2)).toThrow(/page 63/);
  });
});

describe("dirtyHeatmap", () => {
  const input = {
    iovaBase: 0x1_0000_0000n,
    pageSize: 4096,
    pages: 1 << 18,
    syncs: [
      { timeNs: 1_000_000, dirty: bitmap(1 << 18, [0, 1, 2, 5000, 200_000]) },
      { timeNs: 2_500_000, dirty: [7, 100_000, 100_001] },
      { timeNs: 4_000_000, dirty: new Uint8Array(1 << 15), label: "after stop" },
    ],
  };

  it("emits a Vega-Lite rect heat map with SVG, HTML and a text rendering", async () => {
    const b = await dirtyHeatmap(input);
    expect(Object.keys(b.data).sort()).toEqual([VEGALITE_MIME, "image/svg+xml", "text/html", "text/plain"].sort());
    expect(b.data["image/svg+xml"]).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const spec = b.data[VEGALITE_MIME] as Record<string, any>;
    expect(spec.mark.type).toBe("rect");
    expect(spec.encoding.y.scale.domain).toEqual(["#1 1 ms", "#2 2.5 ms", "after stop"]);
    const rows = spec.data.values as { sync: string; dirty: number; range: string }[];
    expect(rows.filter((r) => r.sync === "#1 1 ms").reduce((s, r) => s + r.dirty, 0)).toBe(5);
    expect(rows.filter((r) => r.sync === "after stop")).toEqual([]);
    expect(rows[0]!.range).toBe("0x100000000–0x1007fffff");
    const text = b.data["text/plain"] as string;
    expect(text.split("\n")[0]).toBe("Dirty pages per sync: 1 GiB from 0x100000000, 4 KiB pages, 2048 pages per bucket");
    expect(text).toMatch(/^#1 1 ms +\|\.[^|]*\| {2}5$/m);
    expect(text).toMatch(/^after stop +\| {64}\| {2}0$/m);
  });

  it("bins a TiB range into at most maxBuckets buckets", async () => {
    const pages = 2 ** 28; // 1 TiB of 4 KiB pages
    const dirty = Array.from({ length: 5000 }, (_, i) => (i * 2_654_435_761) % pages);
    const b = await dirtyHeatmap({ iovaBase: 0, pageSize: 4096, pages, syncs: [{ timeNs: 0, dirty }, { timeNs: 1e9, dirty: dirty.slice(0, 100) }] }, { maxBuckets: 64 });
    const spec = b.data[VEGALITE_MIME] as Record<string, any>;
    expect(spec.title.subtitle).toContain("1 TiB from 0x0");
    expect(spec.encoding.x.scale.domain).toEqual([0, 1]);
    expect(spec.data.values.length).toBeLessThanOrEqual(2 * 64);
    expect(spec.data.values.reduce((s: number, r: { dirty: number }) => s + r.dirty, 0)).toBe(5100);
  });

  it("renders identically twice", async () => {
    const a = await dirtyHeatmap(input);
    await dirtyHeatmap({ ...input, syncs: input.syncs.slice(1) });
    expect((await dirtyHeatmap(input)).data).toEqual(a.data);
  });

  it("refuses bad input with a clear message", async () => {
    await expect(dirtyHeatmap({ ...input, pageSize: 3000 })).rejects.toThrow(/power of two/);
    await expect(dirtyHeatmap({ ...input, syncs: [] })).rejects.toThrow(/at least one sync/);
  });
});
