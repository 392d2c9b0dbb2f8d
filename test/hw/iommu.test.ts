import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Clock } from "../../hw-emu/sim/clock.js";
import { setBitIndices } from "../../hw-emu/sim/bitmap.js";
import {
  Iommu,
  IommuError,
  PAGE_1G,
  PAGE_2M,
  PAGE_4K,
  PERM_READ,
  PERM_RW,
  formatRequesterId,
  newTranslation,
  requesterId,
} from "../../hw-emu/hw/iommu.js";

const RID = requesterId(1, 0, 1);

describe("IO page tables", () => {
  it("chooses the largest leaf the alignment allows", () => {
    const iommu = new Iommu();
    const d = iommu.createDomain();
    d.map(0, 0x4000_0000, PAGE_1G + PAGE_2M + PAGE_4K, PERM_RW);
    expect(d.mappings().map((l) => l.size)).toEqual([PAGE_1G, PAGE_2M, PAGE_4K]);
    // misaligned target: only 4 KiB leaves possible
    d.map(0x100_0000_0000, 0x1000, 2 * PAGE_4K, PERM_READ);
    expect(d.mappings(0x100_0000_0000, PAGE_2M).map((l) => l.size)).toEqual([PAGE_4K, PAGE_4K]);
    expect(d.mappedBytes).toBe(PAGE_1G + PAGE_2M + 3 * PAGE_4K);
  });

  it("honours a forced page size and the domain's page sizes", () => {
    const iommu = new Iommu();
    const d = iommu.createDomain({ pageSizes: [PAGE_4K, PAGE_2M] });
    d.map(0, 0, PAGE_1G, PERM_RW);
    expect(d.mappings().every((l) => l.size === PAGE_2M)).toBe(true);
    expect(() => d.map(PAGE_1G, 0, PAGE_1G, PERM_RW, { pageSize: PAGE_1G })).toThrow(IommuError);
    const e = iommu.createDomain();
    e.map(0, 0, PAGE_2M, PERM_RW, { pageSize: PAGE_4K });
    expect(e.mappings()).toHaveLength(512);
    expect(() => e.map(PAGE_4K, 0, PAGE_2M, PERM_RW, { pageSize: PAGE_2M })).toThrow(/aligned/);
  });

  it("refuses overlapping and unaligned maps, all or nothing", () => {
    const d = new Iommu().createDomain();
    d.map(0x10000, 0, 0x1000, PERM_RW);
    const err = (() => {
      try {
        d.map(0, 0, 0x20000, PERM_RW);
      } catch (e) {
        return e as IommuError;
      }
      return null;
    })();
    expect(err?.code).toBe("exists");
    expect(d.mappedBytes).toBe(0x1000);
    expect(() => d.map(0x123, 0, 0x1000, PERM_RW)).toThrow(/aligned/);
    expect(() => d.map(2 ** 48 - 0x1000, 0, 0x2000, PERM_RW)).toThrow(/limit/);
    expect(() => d.map(0x20000, 0, 0x1000, 0)).toThrow(/permission/);
  });

  it("unmaps exactly the range, splitting huge leaves", () => {
    const d = new Iommu().createDomain();
    d.map(0, 0, PAGE_1G, PERM_RW);
    expect(d.unmap(PAGE_2M + PAGE_4K, PAGE_4K)).toBe(PAGE_4K);
    expect(d.mappedBytes).toBe(PAGE_1G - PAGE_4K);
    expect(d.lookup(PAGE_2M + PAGE_4K)).toBeNull();
    expect(d.lookup(PAGE_2M)).toEqual({ iova: PAGE_2M, gpa: PAGE_2M, size: PAGE_4K, perm: PERM_RW });
    expect(d.lookup(0)).toEqual({ iova: 0, gpa: 0, size: PAGE_2M, perm: PERM_RW });
    expect(d.lookup(PAGE_1G - 1)?.size).toBe(PAGE_2M);
    expect(d.unmap(0, PAGE_1G)).toBe(PAGE_1G - PAGE_4K);
    expect(d.mappings()).toEqual([]);
  });

  it("formats requester ids", () => {
    expect(formatRequesterId(requesterId(0x3a, 2, 5))).toBe("3a:02.5");
  });
});

describe("splitting huge leaves", () => {
  function attached() {
    const clock = new Clock();
    const iommu = new Iommu({ clock });
    const d = iommu.createDomain();
    iommu.attach(RID, d);
    d.map(0, 0x8000_0000, PAGE_1G + PAGE_2M, PERM_RW);
    return { iommu, d, tr: newTranslation() };
  }

  for (const mode of ["atomic", "break-before-make"] as const) {
    it(`${mode}: 512 leaves of the next size, same targets and permissions`, () => {
      const { d } = attached();
      expect(d.splitLeaf(PAGE_1G + 0x1234, mode)).toEqual({ iova: PAGE_1G, gpa: 0x8000_0000 + PAGE_1G, size: PAGE_2M, perm: PERM_RW });
      const leaves = d.mappings(PAGE_1G, PAGE_2M);
      expect(leaves).toHaveLength(512);
      expect(leaves.every((l, k) => l.size === PAGE_4K && l.iova === PAGE_1G + k * PAGE_4K && l.gpa === 0x8000_0000 + PAGE_1G + k * PAGE_4K && l.perm === PERM_RW)).toBe(true);
      d.splitLeaf(0, mode);
      expect(d.mappings(0, PAGE_1G).map((l) => l.size)).toEqual(new Array(512).fill(PAGE_2M));
      expect(d.mappedBytes).toBe(PAGE_1G + PAGE_2M);
    });
  }

  it("break-before-make empties the slot until finished, so DMA in the gap faults", () => {
    const { iommu, d, tr } = attached();
    expect(iommu.translate(RID, PAGE_1G, "write", tr)).toBe(true); // the IOTLB now holds the 2 MiB leaf
    const split = d.beginSplit(PAGE_1G, "break-before-make");
    expect(d.mappedBytes).toBe(PAGE_1G);
    expect(iommu.translate(RID, PAGE_1G + 0x10, "write", tr)).toBe(false);
    expect(iommu.faults.at(-1)).toMatchObject({ reason: "not-present", iova: PAGE_1G + 0x10 });
    split.finish();
    expect(split.done).toBe(true);
    expect(iommu.translate(RID, PAGE_1G + 0x10, "write", tr)).toBe(true);
    expect(tr.leafSize).toBe(PAGE_4K);
    expect(iommu.faultCount).toBe(1);
  });

  it("atomic keeps translating through the old leaf until finished, then through the new ones", () => {
    const { iommu, d, tr } = attached();
    const split = d.beginSplit(PAGE_1G, "atomic");
    expect(iommu.translate(RID, PAGE_1G + 0x5000, "write", tr)).toBe(true);
    expect(tr.leafSize).toBe(PAGE_2M);
    split.finish();
    // the stale 2 MiB IOTLB entry was invalidated with the swap
    expect(iommu.translate(RID, PAGE_1G + 0x5000, "write", tr)).toBe(true);
    expect([tr.leafIova, tr.leafSize, tr.gpa]).toEqual([PAGE_1G + 0x5000, PAGE_4K, 0x8000_0000 + PAGE_1G + 0x5000]);
    expect(iommu.faultCount).toBe(0);
  });

  it("keeps dirty bits across the split; later writes dirty only their small leaf", () => {
    const { d } = attached();
    d.setDirtyTracking(true);
    d.markDirty(PAGE_1G, PAGE_2M); // a write through the 2 MiB leaf
    d.splitLeaf(PAGE_1G, "break-before-make");
    const bits = new Uint32Array(16);
    d.readDirty(PAGE_1G, PAGE_2M, PAGE_4K, bits);
    expect(setBitIndices(bits)).toHaveLength(512);
    d.markDirty(PAGE_1G + 7 * PAGE_4K, PAGE_4K);
    bits.fill(0);
    d.readDirty(PAGE_1G, PAGE_2M, PAGE_4K, bits);
    expect(setBitIndices(bits)).toEqual([7]);
  });

  it("refuses what cannot be split, a second finish, and map or unmap over a split in progress", () => {
    const { d } = attached();
    d.splitLeaf(PAGE_1G, "atomic");
    expect(() => d.beginSplit(PAGE_1G)).toThrow(/4 KiB leaf/);
    expect(() => d.beginSplit(PAGE_1G + PAGE_2M)).toThrow(IommuError);
    expect(() => d.beginSplit(0, "sideways" as never)).toThrow(/unknown mode/);
    const split = d.beginSplit(0, "break-before-make");
    const busy = (() => {
      try {
        d.unmap(0x1000, PAGE_4K);
      } catch (e) {
        return (e as IommuError).code;
      }
      return null;
    })();
    expect(busy).toBe("busy");
    expect(() => d.map(0, 0, PAGE_4K, PERM_RW)).toThrow(/being split/);
    split.finish();
    expect(() => split.finish()).toThrow(/already finished/);
    expect(d.unmap(0, PAGE_2M)).toBe(PAGE_2M);
    const small = new Iommu().createDomain({ pageSizes: [PAGE_4K, PAGE_1G] });
    small.map(0, 0, PAGE_1G, PERM_RW);
    expect(() => small.beginSplit(0)).toThrow(/does not support/);
  });
});

describe("translation, IOTLB and faults", () => {
  it("records not-present, permission and no-domain faults with time", () => {
    const clock = new Clock();
    const iommu = new Iommu({ clock });
    const tr = newTranslation();
    clock.advance(500);
    expect(iommu.translate(RID, 0x1000, "read", tr)).toBe(false);
    const d = iommu.createDomain();
    iommu.attach(RID, d);
    d.map(0x1000, 0x9000, 0x1000, PERM_READ);
    expect(iommu.translate(RID, 0x1234, "read", tr)).toBe(true);
    expect(tr.gpa).toBe(0x9234);
    expect(iommu.translate(RID, 0x1234, "write", tr)).toBe(false);
    expect(iommu.translate(RID, 0x2000, "read", tr)).toBe(false);
    expect(iommu.faults.map((f) => [f.reason, f.access, f.iova, f.time])).toEqual([
      ["no-domain", "read", 0x1000, 500],
      ["permission", "write", 0x1234, 500],
      ["not-present", "read", 0x2000, 500],
    ]);
    expect(iommu.faultCount).toBe(3);
    iommu.clearFaults();
    expect(iommu.faults).toEqual([]);
  });

  it("unmap invalidates the IOTLB by default", () => {
    const iommu = new Iommu();
    const d = iommu.createDomain();
    iommu.attach(RID, d);
    d.map(0, 0x10000, 0x1000, PERM_RW);
    const tr = newTranslation();
    expect(iommu.translate(RID, 0, "write", tr)).toBe(true);
    expect(iommu.translate(RID, 8, "write", tr)).toBe(true);
    expect(iommu.iotlbStats.hits).toBeGreaterThan(0);
    d.unmap(0, 0x1000);
    expect(iommu.translate(RID, 0, "write", tr)).toBe(false);
  });

  it("without auto invalidation, stale entries translate until invalidated", () => {
    const iommu = new Iommu({ autoInvalidate: false });
    const d = iommu.createDomain();
    iommu.attach(RID, d);
    d.map(0, 0x10000, 0x1000, PERM_RW);
    const tr = newTranslation();
    expect(iommu.translate(RID, 0, "write", tr)).toBe(true);
    d.unmap(0, 0x1000);
    expect(d.lookup(0)).toBeNull();
    expect(iommu.translate(RID, 0x10, "write", tr)).toBe(true); // stale
    expect(tr.gpa).toBe(0x10010);
    iommu.invalidate(d, 0, 0x1000);
    expect(iommu.translate(RID, 0x10, "write", tr)).toBe(false);
  });

  it("detaching and destroying domains", () => {
    const iommu = new Iommu();
    const d = iommu.createDomain();
    iommu.attach(RID, d);
    expect(() => iommu.destroyDomain(d)).toThrow(/attached/);
    iommu.detach(RID);
    iommu.destroyDomain(d);
    expect(() => d.map(0, 0, 0x1000, PERM_RW)).toThrow(/destroyed/);
    expect(() => iommu.attach(RID, d)).toThrow(IommuError);
  });
});

describe("dirty tracking", () => {
  it("is refused on a domain without the capability", () => {
    const d = new Iommu().createDomain({ dirtyTracking: false });
    expect(() => d.setDirtyTracking(true)).toThrow(/does not support/);
  });

  it("enable clears stale bits; read-and-clear empties; no-clear is repeatable", () => {
    const d = new Iommu().createDomain();
    d.map(0, 0, PAGE_1G, PERM_RW);
    d.markDirty(0x5000, 1); // stale from before tracking
    d.setDirtyTracking(true);
    expect(d.isDirty(0x5000)).toBe(false);
    d.markDirty(0x3000, 0x2000);
    d.markDirty(0x40_0000, 0x10);
    const a = new Uint32Array(8);
    d.readDirty(0, 0x80_0000, PAGE_4K * 64, a, { clear: false });
    const b = new Uint32Array(8);
    d.readDirty(0, 0x80_0000, PAGE_4K * 64, b, { clear: false });
    expect(setBitIndices(a)).toEqual([0, 16]);
    expect(b).toEqual(a);
    const c = new Uint32Array(4096);
    d.readDirty(0, 0x1000_0000, PAGE_4K, c);
    expect(setBitIndices(c)).toEqual([3, 4, 0x400]);
    const e = new Uint32Array(4096);
    d.readDirty(0, 0x1000_0000, PAGE_4K, e);
    expect(setBitIndices(e)).toEqual([]);
  });

  it("only sets bits in the caller's bitmap, and checks arguments", () => {
    const d = new Iommu().createDomain();
    d.markDirty(0x2000, 0x1000);
    const out = new Uint32Array([0b1, 0]);
    d.readDirty(0, 0x40000, PAGE_4K, out);
    expect(setBitIndices(out)).toEqual([0, 2]);
    expect(() => d.readDirty(0, 0x40000, 3000, out)).toThrow(/power of two/);
    expect(() => d.readDirty(0x1000, 0x2000, 0x2000, out)).toThrow(/multiples/);
    expect(() => d.readDirty(0, 0x1000 * 65, PAGE_4K, out)).toThrow(/bits/);
  });

  it("supports byte bitmaps, unaligned ones and unaligned IOVA starts", () => {
    const d = new Iommu().createDomain();
    const iova = 0x7_0000_3000; // not a multiple of 32 pages
    d.markDirty(iova + 5 * PAGE_4K, 1);
    d.markDirty(iova + 40 * PAGE_4K, PAGE_4K);
    const raw = new Uint8Array(64 + 1);
    const bytes = raw.subarray(1); // byteOffset 1
    d.readDirty(iova, 64 * PAGE_4K, PAGE_4K, bytes, { clear: false });
    expect(Array.from(bytes.slice(0, 8))).toEqual([1 << 5, 0, 0, 0, 0, 1 << 0, 0, 0]);
    const words = new Uint32Array(2);
    d.readDirty(iova, 64 * PAGE_4K, PAGE_4K, words);
    expect(setBitIndices(words)).toEqual([5, 40]);
  });

  it("handles a 1 TiB range with sparse chunks", () => {
    const d = new Iommu().createDomain();
    d.map(0, 0, 2 ** 40, PERM_RW);
    d.setDirtyTracking(true);
    const pages = [0, 12345, 2 ** 27, 2 ** 28 - 1];
    for (const p of pages) d.markDirty(p * PAGE_4K, PAGE_4K);
    const out = new Uint32Array(2 ** 28 / 32);
    d.readDirty(0, 2 ** 40, PAGE_4K, out);
    expect(setBitIndices(out)).toEqual(pages);
    expect(d.dirtyBitmapBytes).toBe(0);
  });

  it("unmap drops the dirty bits of the range", () => {
    const d = new Iommu().createDomain();
    d.map(0, 0, PAGE_2M, PERM_RW);
    d.markDirty(0, PAGE_2M);
    d.unmap(0, PAGE_4K);
    const out = new Uint32Array(16);
    d.readDirty(0, PAGE_2M, PAGE_4K, out);
    expect(setBitIndices(out)).toHaveLength(511);
    expect(setBitIndices(out)[0]).toBe(1);
  });

  it("read-and-clear then read returns nothing (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ page: fc.integer({ min: 0, max: 4095 }), n: fc.integer({ min: 1, max: 70 }) }), { maxLength: 20 }),
        fc.integer({ min: 0, max: 3 }),
        (marks, shiftExp) => {
          const d = new Iommu().createDomain();
          const ref = new Set<number>();
          for (const m of marks) {
            d.markDirty(m.page * PAGE_4K, m.n * PAGE_4K);
            for (let i = 0; i < m.n; i++) ref.add(m.page + i);
          }
          const per = 2 ** shiftExp;
          const expected = [...new Set([...ref].filter((p) => p < 8192).map((p) => Math.floor(p / per)))].sort((a, b) => a - b);
          const first = new Uint32Array(256);
          d.readDirty(0, 8192 * PAGE_4K, PAGE_4K * per, first, { clear: false });
          const second = new Uint32Array(256);
          d.readDirty(0, 8192 * PAGE_4K, PAGE_4K * per, second);
          const third = new Uint32Array(256);
          d.readDirty(0, 8192 * PAGE_4K, PAGE_4K * per, third);
          expect(setBitIndices(first)).toEqual(expected);
          expect(second).toEqual(first);
          expect(setBitIndices(third)).toEqual([]);
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });
});
