import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { GuestMemory, PAGE_SIZE, toAddress } from "../../hw-emu/hw/memory.js";
import { GuestDirtyLog } from "../../hw-emu/hw/memory-dirty-log.js";
import { setBitIndices } from "../../hw-emu/sim/bitmap.js";

const TiB = 2 ** 40;

describe("GuestMemory", () => {
  it("reads zeros from untouched memory without allocating", () => {
    const m = new GuestMemory({ size: TiB });
    expect(m.read(TiB - 100, 100)).toEqual(new Uint8Array(100));
    expect(m.read(12345, 10000).every((b) => b === 0)).toBe(true);
    expect(m.allocatedPages).toBe(0);
    expect(m.isAllocated(0)).toBe(false);
  });

  it("writes and reads spans crossing pages at the top of a 1 TiB space", () => {
    const m = new GuestMemory({ size: TiB });
    const data = Uint8Array.from({ length: 3 * PAGE_SIZE + 17 }, (_, i) => (i * 7 + 3) & 0xff);
    const at = TiB - data.length - 5;
    m.write(at, data);
    expect(m.read(at, data.length)).toEqual(data);
    expect(m.read(at - 3, 3)).toEqual(new Uint8Array(3));
    expect(m.allocatedPages).toBe(4);
    expect(() => m.write(TiB - 1, new Uint8Array(2))).toThrow(RangeError);
    expect(() => m.read(-1, 1)).toThrow(RangeError);
  });

  it("accepts bigint addresses through toAddress", () => {
    expect(toAddress(0x1000n)).toBe(0x1000);
    expect(() => toAddress(-1n)).toThrow(RangeError);
    expect(() => toAddress(2n ** 60n)).toThrow(RangeError);
  });

  it("keeps small writes and uniform fills compact and promotes busy pages", () => {
    const m = new GuestMemory({ size: 2 ** 30 });
    m.writeU64(0x1000, 0x1122334455667788n);
    m.fill(0x2000, PAGE_SIZE, 0xab);
    expect(m.stats()).toMatchObject({ allocatedPages: 2, compactPages: 2, densePages: 0 });
    expect(m.readU64(0x1000)).toBe(0x1122334455667788n);
    expect(m.readU32(0x2ffc)).toBe(0xabababab);
    // 7 distinct words exceed the compact limit
    for (let i = 0; i < 7; i++) m.writeU32(0x1100 + i * 16, i + 1);
    expect(m.stats()).toMatchObject({ allocatedPages: 2, compactPages: 1, densePages: 1 });
    expect(m.readU64(0x1000)).toBe(0x1122334455667788n);
    for (let i = 0; i < 7; i++) expect(m.readU32(0x1100 + i * 16)).toBe(i + 1);
    // writing the fill value back removes patches instead of adding them
    m.writeU8(0x2010, 0x12);
    m.writeU8(0x2010, 0xab);
    expect(m.read(0x2000, PAGE_SIZE).every((b) => b === 0xab)).toBe(true);
  });

  it("hashes by content, whatever the representation", () => {
    const a = new GuestMemory({ size: 2 ** 24 });
    const b = new GuestMemory({ size: 2 ** 24 });
    const page = new Uint8Array(PAGE_SIZE);
    page[100] = 5;
    page[4000] = 9;
    a.write(0x3000, page); // one full-page write (dense, not uniform)
    b.writeU8(0x3000 + 100, 5); // two small writes (compact)
    b.writeU8(0x3000 + 4000, 9);
    expect(a.stats().densePages).toBe(1);
    expect(b.stats().compactPages).toBe(1);
    expect(a.pageHash(0x3000)).toBe(b.pageHash(0x3000));
    expect(a.digest()).toBe(b.digest());
    expect(a.differingPages(b)).toEqual([]);
    b.writeU8(0x3000 + 101, 1);
    expect(a.pageHash(0x3000)).not.toBe(b.pageHash(0x3000));
    expect(a.digest()).not.toBe(b.digest());
    expect(a.differingPages(b)).toEqual([0x3000]);
  });

  it("digests content only: allocated zero pages do not count", () => {
    const a = new GuestMemory({ size: 2 ** 24 });
    const b = new GuestMemory({ size: 2 ** 24 });
    b.write(0x5000, new Uint8Array(3 * PAGE_SIZE));
    expect(b.allocatedPages).toBe(3);
    expect(a.digest()).toBe(b.digest());
    expect(a.pageHash(0x5000)).toBe(b.pageHash(0x5000));
    b.writeU8(0x6000, 1);
    expect(a.digest(0, 0x6000)).toBe(b.digest(0, 0x6000));
    expect(a.digest(0x6000, 0x1000)).not.toBe(b.digest(0x6000, 0x1000));
  });

  it("lists allocated pages in ascending order", () => {
    const m = new GuestMemory({ size: TiB });
    for (const a of [TiB - PAGE_SIZE, 0, 0x7000_0000, 0x1000]) m.writeU8(a, 1);
    expect([...m.allocatedPageAddresses()]).toEqual([0, 0x1000, 0x7000_0000, TiB - PAGE_SIZE]);
    expect([...m.allocatedPageAddresses(0x1000, 0x6fff_f000)]).toEqual([0x1000]);
    const seen: number[] = [];
    m.forEachAllocatedPage((g) => seen.push(g));
    expect(seen).toEqual([0, 0x1000, 0x7000_0000, TiB - PAGE_SIZE]);
  });

  it("behaves like a flat byte array under random writes (property)", () => {
    const SIZE = 16 * PAGE_SIZE;
    const op = fc.record({
      at: fc.integer({ min: 0, max: SIZE - 1 }),
      len: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 3 * PAGE_SIZE })),
      kind: fc.constantFrom("random", "byte", "zero", "word"),
      seed: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const m = new GuestMemory({ size: SIZE });
        const ref = new Uint8Array(SIZE);
        for (const o of ops) {
          const len = Math.min(o.len, SIZE - o.at);
          const data = new Uint8Array(len);
          for (let i = 0; i < len; i++) {
            data[i] = o.kind === "random" ? (o.seed * 31 + i * 17) & 0xff : o.kind === "byte" ? o.seed : o.kind === "zero" ? 0 : [1, 2, 3, o.seed][(o.at + i) & 3]!;
          }
          m.write(o.at, data);
          ref.set(data, o.at);
        }
        expect(Buffer.compare(m.read(0, SIZE), ref)).toBe(0);
        // hashes match those of a memory holding the same bytes densely
        const dense = new GuestMemory({ size: SIZE });
        for (let p = 0; p < SIZE; p += PAGE_SIZE) dense.write(p, ref.subarray(p, p + PAGE_SIZE));
        for (let p = 0; p < SIZE; p += PAGE_SIZE) expect(m.pageHash(p)).toBe(dense.pageHash(p));
        expect(m.digest()).toBe(dense.digest());
      }),
      { seed: 42, numRuns: 150 },
    );
  });

  it("rewrites and reads long spans of full pages across slab boundaries", () => {
    const m = new GuestMemory({ size: 2 ** 30 });
    const len = 16 * 2 ** 20 + 3 * PAGE_SIZE;
    const a = Uint8Array.from({ length: len }, (_, i) => (i * 13 + 1) & 0xff);
    const b = Uint8Array.from({ length: len }, (_, i) => (i * 7 + 5) & 0xff);
    m.write(PAGE_SIZE, a);
    m.write(PAGE_SIZE + 100, b, 0, len - 200); // unaligned rewrite over consecutive dense pages
    const expected = a.slice();
    expected.set(b.subarray(0, len - 200), 100);
    expect(Buffer.compare(m.read(PAGE_SIZE, len), expected)).toBe(0);
    expect(Buffer.compare(m.read(PAGE_SIZE + 4095, 70000), expected.subarray(4095, 4095 + 70000))).toBe(0);
    expect(m.stats().densePages).toBe(len / PAGE_SIZE);
  });

  it("logs CPU writes only while logging, and read-and-clear empties the log", () => {
    const m = new GuestMemory({ size: 2 ** 30 });
    const log = new GuestDirtyLog(m);
    log.write(0x1000, new Uint8Array([1]));
    log.start();
    log.write(0x3ffe, new Uint8Array(4)); // crosses into page 4
    log.write(0x10000, new Uint8Array(1));
    const a = new Uint32Array(2);
    log.read(0, 64 * PAGE_SIZE, a, { clear: false });
    expect(setBitIndices(a)).toEqual([3, 4, 16]);
    const b = new Uint32Array(2);
    log.read(0, 64 * PAGE_SIZE, b);
    expect(b).toEqual(a);
    const c = new Uint32Array(2);
    log.read(0, 64 * PAGE_SIZE, c);
    expect(setBitIndices(c)).toEqual([]);
    log.stop();
    log.write(0x20000, new Uint8Array(1));
    expect(log.isDirty(0x20000)).toBe(false);
    expect(m.readU8(0x20000)).toBe(0);
    expect(() => log.read(1, PAGE_SIZE, c)).toThrow(/aligned/);
  });
});
