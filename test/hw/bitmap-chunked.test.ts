/** ChunkedBitmap.count and forEachSet against a set of indices, across chunk boundaries. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CHUNK_BITS, ChunkedBitmap } from "../../hw-emu/hw/bitmap-chunked.js";

describe("ChunkedBitmap", () => {
  it("counts, visits in order and clears exactly the set bits of a window (property)", () => {
    // indices near the boundary between chunks 3 and 4, and a few far away
    const index = fc.oneof(fc.integer({ min: 4 * CHUNK_BITS - 300, max: 4 * CHUNK_BITS + 300 }), fc.constantFrom(0, 31, 32, 2 ** 40, 2 ** 44 + 7));
    fc.assert(
      fc.property(fc.uniqueArray(index, { maxLength: 60 }), index, fc.integer({ min: 0, max: 700 }), fc.boolean(), (bits, from, span, clear) => {
        const bm = new ChunkedBitmap();
        for (const b of bits) bm.setRange(b, 1);
        expect(bm.count()).toBe(bits.length);
        const seen: number[] = [];
        bm.forEachSet(from, span, clear, (g) => seen.push(g));
        const inWindow = bits.filter((b) => b >= from && b < from + span).sort((a, b) => a - b);
        expect(seen).toEqual(inWindow);
        expect(bm.count()).toBe(clear ? bits.length - inWindow.length : bits.length);
        for (const b of bits) expect(bm.test(b)).toBe(!clear || !inWindow.includes(b));
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it("visits a few bits spread over 2^44 indices without walking the empty chunks", () => {
    const bm = new ChunkedBitmap();
    const bits = [5, 2 ** 30 + 1, 2 ** 44 - 1];
    for (const b of bits) bm.setRange(b, 1);
    const seen: number[] = [];
    bm.forEachSet(0, 2 ** 44, false, (g) => seen.push(g));
    expect(seen).toEqual(bits);
  });
});
