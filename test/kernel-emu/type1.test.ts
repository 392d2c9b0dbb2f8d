import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  IOCTL,
  VFIO_DMA_MAP_FLAG,
  VFIO_DMA_UNMAP_FLAG,
  VFIO_EXTENSION,
  VFIO_IOMMU_DIRTY_PAGES_FLAG,
  VFIO_IOMMU_INFO,
  VFIO_IOMMU_TYPE1_INFO_CAP,
  parseCapChain,
  vfio_bitmap,
  vfio_iommu_type1_dirty_bitmap,
  vfio_iommu_type1_dirty_bitmap_get,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
  vfio_iommu_type1_info_cap_iova_range,
  vfio_iommu_type1_info_cap_migration,
  vfio_iommu_type1_info_dma_avail,
  vfio_iova_range,
  type Mapping,
} from "../../hw-emu/uapi/index.js";
import { RID_A, RID_B, dmaMachine, errnoOf, guestRam, intPtr, setBitsOf, type DmaMachine } from "./fixtures/dma-machine.js";

const PG = 0x1000;
const { READ, WRITE, VADDR } = VFIO_DMA_MAP_FLAG.bits;
const U = VFIO_DMA_UNMAP_FLAG.bits;
const D = VFIO_IOMMU_DIRTY_PAGES_FLAG.bits;

interface Setup {
  m: DmaMachine;
  c: number;
  groups: Record<number, number>;
  ram: Mapping;
}

/** A container of the given type with the given groups attached, and 1 MiB of guest RAM. */
function setup(type: number, specs: Parameters<typeof dmaMachine>[0], join = specs.map((s) => s.groupId)): Setup {
  const m = dmaMachine(specs);
  const c = m.kernel.open("/dev/vfio/vfio");
  const groups: Record<number, number> = {};
  for (const id of new Set(join)) {
    groups[id] = m.kernel.open(`/dev/vfio/${id}`);
    m.kernel.ioctl(groups[id]!, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
  }
  m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, type);
  return { m, c, groups, ram: guestRam(m.kernel, 0x10_0000) };
}

const passthrough = () => setup(VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU, [{ name: "0000:01:00.0", groupId: 1, rid: RID_A }]);
const pinnedOnly = () => setup(VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU, [{ name: "0000:01:00.0", groupId: 1, rid: RID_A, pinned: true }]);

function map(s: Setup, iova: number, off: number, size: number, flags = READ | WRITE): string {
  return errnoOf(() =>
    s.m.kernel.ioctl(s.c, IOCTL.VFIO_IOMMU_MAP_DMA, vfio_iommu_type1_dma_map.encode({ flags, vaddr: s.ram.addr + BigInt(off), iova: BigInt(iova), size: BigInt(size) })),
  );
}

function unmap(s: Setup, iova: number | bigint, size: number | bigint, flags = 0): bigint | string {
  const arg = vfio_iommu_type1_dma_unmap.encode({ flags, iova: BigInt(iova), size: BigInt(size) });
  const e = errnoOf(() => s.m.kernel.ioctl(s.c, IOCTL.VFIO_IOMMU_UNMAP_DMA, arg));
  return e === "ok" ? vfio_iommu_type1_dma_unmap.decode(arg).size : e;
}

function dirty(s: Setup, flags: number, argsz = vfio_iommu_type1_dirty_bitmap.size): string {
  return errnoOf(() => s.m.kernel.ioctl(s.c, IOCTL.VFIO_IOMMU_DIRTY_PAGES, vfio_iommu_type1_dirty_bitmap.encode({ argsz, flags })));
}

interface GetOpts {
  pgsize?: number;
  bitmapSize?: number;
  argsz?: number;
  bitmap?: Uint8Array;
}

/** DIRTY_PAGES GET_BITMAP over [iova, iova+size); returns the bitmap or the errno. */
function getBitmap(s: Setup, iova: number | bigint, size: number | bigint, o: GetOpts = {}): Uint8Array | string {
  const pages = Number(BigInt(size) / BigInt(o.pgsize || PG));
  const bitmap = o.bitmap ?? new Uint8Array(Math.max(8, Math.ceil(pages / 64) * 8));
  const arg = new Uint8Array(48);
  vfio_iommu_type1_dirty_bitmap.encodeInto(arg, 0, { argsz: o.argsz ?? 48, flags: D.GET_BITMAP });
  vfio_iommu_type1_dirty_bitmap_get.encodeInto(arg, 8, {
    iova: BigInt(iova),
    size: BigInt(size),
    "bitmap.pgsize": BigInt(o.pgsize ?? PG),
    "bitmap.size": BigInt(o.bitmapSize ?? bitmap.byteLength),
    "bitmap.data": s.m.kernel.addressOf(bitmap),
  });
  const e = errnoOf(() => s.m.kernel.ioctl(s.c, IOCTL.VFIO_IOMMU_DIRTY_PAGES, arg));
  return e === "ok" ? bitmap : e;
}

function getInfo(s: Setup, argsz: number, bufSize = Math.max(argsz, 24)) {
  const buf = new Uint8Array(bufSize);
  vfio_iommu_type1_info.encodeInto(buf, 0, { argsz });
  s.m.kernel.ioctl(s.c, IOCTL.VFIO_IOMMU_GET_INFO, buf);
  return { info: vfio_iommu_type1_info.decode(buf), buf };
}

const write = (s: Setup, name: string, iova: number, len = 1) => s.m.dev[name]!.port!.write(iova, new Uint8Array(len).fill(0x5a));

describe("type1: VFIO_IOMMU_GET_INFO", () => {
  it("grows argsz, then returns IOVA_RANGE, MIGRATION and DMA_AVAIL capabilities", () => {
    const s = passthrough();
    const F = VFIO_IOMMU_INFO.bits;
    expect(errnoOf(() => getInfo(s, 15))).toBe("EINVAL");
    // an old caller without cap_offset: flags and the needed size, nothing else
    const old = getInfo(s, 16);
    expect(old.info.flags).toBe(F.PGSIZES | F.CAPS);
    expect(old.info.iova_pgsizes).toBe(0x4020_1000n);
    expect(old.info.argsz).toBeGreaterThan(24);
    expect(new DataView(old.buf.buffer).getUint32(16, true)).toBe(0);
    const small = getInfo(s, 24);
    expect(small.info).toMatchObject({ flags: F.PGSIZES | F.CAPS, cap_offset: 0, argsz: old.info.argsz });
    const full = getInfo(s, small.info.argsz);
    expect(full.info.cap_offset).toBe(24);
    const caps = parseCapChain(full.buf, full.info.cap_offset);
    const C = VFIO_IOMMU_TYPE1_INFO_CAP;
    expect(caps.map((c) => c.id)).toEqual([C.VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, C.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, C.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE]);
    const mig = vfio_iommu_type1_info_cap_migration.decode(full.buf, caps[0]!.offset);
    expect(mig).toMatchObject({ flags: 0, pgsize_bitmap: 0x1000n, max_dirty_bitmap_size: 268435456n });
    expect(vfio_iommu_type1_info_dma_avail.decode(full.buf, caps[1]!.offset).avail).toBe(65535);
    const range = vfio_iommu_type1_info_cap_iova_range.decode(full.buf, caps[2]!.offset);
    expect(range.nr_iovas).toBe(1);
    expect(vfio_iova_range.decode(full.buf, caps[2]!.offset + 16)).toEqual({ start: 0n, end: (1n << 48n) - 1n });
    map(s, 0x10_0000, 0, 0x2000);
    expect(vfio_iommu_type1_info_dma_avail.decode(getInfo(s, full.info.argsz).buf, caps[1]!.offset).avail).toBe(65534);
  });

  it("a container of emulated-IOMMU groups has no domain: all page sizes, no IOVA range", () => {
    const s = setup(VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU, [{ name: "mdev-a", groupId: 3, pinned: true }]);
    const { info, buf } = getInfo(s, 256);
    expect(info.iova_pgsizes).toBe(0xffff_ffff_ffff_f000n);
    expect(parseCapChain(buf, info.cap_offset).map((c) => c.id)).not.toContain(VFIO_IOMMU_TYPE1_INFO_CAP.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
    // nothing is pinned without a domain: Linux takes any page-aligned vaddr here
    const buffer = new Uint8Array(0x3000);
    const vaddr = (s.m.kernel.addressOf(buffer) + 0xfffn) & ~0xfffn;
    expect(errnoOf(() => s.m.kernel.ioctl(s.c, IOCTL.VFIO_IOMMU_MAP_DMA, vfio_iommu_type1_dma_map.encode({ flags: READ, vaddr, iova: 0x1000n, size: 0x1000n })))).toBe("ok");
  });
});

describe("type1: MAP_DMA and UNMAP_DMA", () => {
  it("maps anonymous memory for the device, with the kernel's argument checks", () => {
    const s = passthrough();
    const buf = new Uint8Array(0x3000);
    const regVaddr = (s.m.kernel.addressOf(buf) + 0xfffn) & ~0xfffn;
    expect(errnoOf(() => s.m.kernel.ioctl(s.c, IOCTL.VFIO_IOMMU_MAP_DMA, vfio_iommu_type1_dma_map.encode({ argsz: 31 })))).toBe("EINVAL");
    expect(map(s, 0x10_0000, 0, 0x1000, 0)).toBe("EINVAL");
    expect(map(s, 0x10_0000, 0, 0x1000, READ | 8)).toBe("EINVAL");
    expect(map(s, 0x10_0000, 0, 0x1000, READ | VADDR)).toBe("EINVAL");
    expect(map(s, 0x10_0000, 0, 0)).toBe("EINVAL");
    expect(map(s, 0x10_0800, 0, 0x1000)).toBe("EINVAL");
    expect(map(s, 0x10_0000, 0x800, 0x1000)).toBe("EINVAL");
    expect(map(s, 2 ** 48, 0, 0x1000)).toBe("EINVAL"); // outside the aperture
    expect(errnoOf(() => s.m.kernel.ioctl(s.c, IOCTL.VFIO_IOMMU_MAP_DMA, vfio_iommu_type1_dma_map.encode({ flags: READ, vaddr: 0n, iova: 0xffff_ffff_ffff_f000n, size: 0x2000n })))).toBe("EINVAL");
    expect(errnoOf(() => s.m.kernel.ioctl(s.c, IOCTL.VFIO_IOMMU_MAP_DMA, vfio_iommu_type1_dma_map.encode({ flags: READ, vaddr: regVaddr, iova: 0x1000n, size: 0x1000n })))).toBe("EFAULT");
    expect(map(s, 0x10_0000, 0, 0x4000)).toBe("ok");
    expect(map(s, 0x10_3000, 0x8000, 0x2000)).toBe("EEXIST");
    expect(map(s, 0x10_4000, 0x8000, 0x1000, READ)).toBe("ok");
    expect(write(s, "0000:01:00.0", 0x10_2001, 2)).toBe("ok");
    expect([...s.ram.read(0x2000, 4)]).toEqual([0, 0x5a, 0x5a, 0]);
    expect(write(s, "0000:01:00.0", 0x10_4000)).toBe("fault"); // read-only for the device
  });

  it("pins a range that runs across adjacent anonymous mappings, and refuses one with a gap", () => {
    const s = passthrough();
    const next = guestRam(s.m.kernel, 0x2000);
    expect(next.addr).toBe(s.ram.addr + 0x10_0000n);
    expect(map(s, 0x10_0000, 0xf_f000, 0x2000)).toBe("ok");
    expect(write(s, "0000:01:00.0", 0x10_1000)).toBe("ok");
    expect(next.read(0, 1)[0]).toBe(0x5a);
    expect(map(s, 0x20_0000, 0x10_1000, 0x2000)).toBe("EFAULT");
  });

  it("v2 unmaps whole mappings only and reports the size unmapped", () => {
    const s = passthrough();
    map(s, 0x10_0000, 0, 0x4000);
    map(s, 0x10_4000, 0x4000, 0x2000);
    map(s, 0x20_0000, 0x8000, 0x1000);
    expect(unmap(s, 0x10_1000, 0x1000)).toBe("EINVAL");
    expect(unmap(s, 0x10_0000, 0x5000)).toBe("EINVAL");
    expect(unmap(s, 0x10_0000, 0)).toBe("EINVAL");
    expect(unmap(s, 0x10_0800, 0x1000)).toBe("EINVAL");
    expect(unmap(s, 0x30_0000, 0x1000)).toBe(0n);
    expect(unmap(s, 0x10_0000, 0x6000)).toBe(0x6000n);
    expect(write(s, "0000:01:00.0", 0x10_0000)).toBe("fault");
    expect(unmap(s, 0x1000, 0, U.ALL)).toBe("EINVAL");
    expect(unmap(s, 0, 0, U.ALL)).toBe(0x1000n);
    expect(unmap(s, 0, 0x1000, 8)).toBe("EINVAL");
  });

  it("v1 unmaps a mapping when the range covers its first byte, and nothing from inside it", () => {
    const s = setup(VFIO_EXTENSION.VFIO_TYPE1_IOMMU, [{ name: "0000:01:00.0", groupId: 1, rid: RID_A }]);
    map(s, 0x10_0000, 0, 0x4000);
    expect(unmap(s, 0x10_1000, 0x1000)).toBe(0n);
    expect(unmap(s, 0x10_0000, 0x1000)).toBe(0x4000n);
    expect(write(s, "0000:01:00.0", 0x10_3000)).toBe("fault");
  });

  it("invalidates and restores a mapping's vaddr (UPDATE_VADDR)", () => {
    const s = passthrough();
    map(s, 0x10_0000, 0, 0x2000);
    expect(map(s, 0x10_0000, 0x4000, 0x2000, VADDR)).toBe("EINVAL");
    expect(map(s, 0x30_0000, 0x4000, 0x2000, VADDR)).toBe("ENOENT");
    expect(unmap(s, 0x10_0000, 0x2000, U.VADDR)).toBe(0x2000n);
    expect(unmap(s, 0x10_0000, 0x2000, U.VADDR)).toBe("EINVAL");
    // the pages stay pinned and mapped while the vaddr is invalid
    expect(write(s, "0000:01:00.0", 0x10_0000)).toBe("ok");
    expect(map(s, 0x10_0000, 0x4000, 0x1000, VADDR)).toBe("EINVAL");
    expect(map(s, 0x10_0000, 0x4000, 0x2000, VADDR)).toBe("ok");
    expect(unmap(s, 0x10_0000, 0x2000, U.VADDR | U.GET_DIRTY_BITMAP)).toBe("EINVAL");
  });
});

describe("type1: VFIO_IOMMU_DIRTY_PAGES", () => {
  it("needs a v2 container (EACCES) and exactly one operation flag", () => {
    const v1 = setup(VFIO_EXTENSION.VFIO_TYPE1_IOMMU, [{ name: "0000:01:00.0", groupId: 1, rid: RID_A }]);
    expect(dirty(v1, D.START)).toBe("EACCES");
    const s = passthrough();
    expect(dirty(s, D.START, 7)).toBe("EINVAL");
    expect(dirty(s, 0)).toBe("EINVAL");
    expect(dirty(s, D.START | D.STOP)).toBe("EINVAL");
    expect(dirty(s, 8)).toBe("EINVAL");
    expect(dirty(s, D.STOP)).toBe("ok");
    expect(dirty(s, D.START)).toBe("ok");
    expect(dirty(s, D.START)).toBe("ok");
    expect(dirty(s, D.STOP)).toBe("ok");
  });

  it("GET_BITMAP applies every size, page and range check", () => {
    const s = passthrough();
    map(s, 0x10_0000, 0, 0x4000);
    map(s, 0x10_4000, 0x4000, 0x4000);
    expect(getBitmap(s, 0x10_0000, 0x4000)).toBe("EINVAL"); // not started
    dirty(s, D.START);
    expect(getBitmap(s, 0x10_0000, 0x4000)).toBeInstanceOf(Uint8Array);
    expect(getBitmap(s, 0x10_0000, 0x4000, { argsz: 47 })).toBe("EINVAL");
    expect(getBitmap(s, 0x10_0000, 0x4000, { pgsize: 0x2000 })).toBe("EINVAL");
    expect(getBitmap(s, 0x10_0000, 0x4000, { pgsize: 0 })).toBe("EINVAL");
    expect(getBitmap(s, 0x10_0000, 0x4000, { bitmapSize: 0 })).toBe("EINVAL");
    expect(getBitmap(s, 0x10_0000, 0x4000, { bitmapSize: 268435456 + 8 })).toBe("EINVAL");
    expect(getBitmap(s, 0x10_0000, 0x10_0000, { bitmapSize: 8, bitmap: new Uint8Array(8) })).toBe("EINVAL"); // 256 pages need 32 bytes
    expect(getBitmap(s, 0x10_0000, 0)).toBe("EINVAL");
    expect(getBitmap(s, 0x10_0800, 0x1000)).toBe("EINVAL");
    expect(getBitmap(s, 0x10_1000, 0x3000)).toBe("EINVAL"); // starts inside a mapping
    expect(getBitmap(s, 0x10_0000, 0x6000)).toBe("EINVAL"); // ends inside one
    expect(getBitmap(s, 0xffff_ffff_ffff_f000n, 0x2000n)).toBe("EINVAL"); // wraps
    const bad = new Uint8Array(48);
    vfio_iommu_type1_dirty_bitmap.encodeInto(bad, 0, { argsz: 48, flags: D.GET_BITMAP });
    vfio_iommu_type1_dirty_bitmap_get.encodeInto(bad, 8, { iova: 0x10_0000n, size: 0x4000n, "bitmap.pgsize": 0x1000n, "bitmap.size": 8n, "bitmap.data": 0xffff_8000_0000_0000n });
    expect(errnoOf(() => s.m.kernel.ioctl(s.c, IOCTL.VFIO_IOMMU_DIRTY_PAGES, bad))).toBe("EINVAL"); // not a user address
    expect(getBitmap(s, 0x10_0000, 0x8000)).toBeInstanceOf(Uint8Array); // two whole mappings
  });

  it("trap 11: type1 reports every mapped page dirty with a passthrough device", () => {
    const s = passthrough();
    map(s, 0x10_0000, 0, 0x4000);
    map(s, 0x10_6000, 0x8000, 0x2000);
    dirty(s, D.START);
    const all = [0, 1, 2, 3, 6, 7];
    expect(setBitsOf(getBitmap(s, 0x10_0000, 0x8000) as Uint8Array)).toEqual(all);
    // nothing was written, and it is all dirty again, every time
    expect(setBitsOf(getBitmap(s, 0x10_0000, 0x8000) as Uint8Array)).toEqual(all);
    write(s, "0000:01:00.0", 0x10_1000);
    expect(setBitsOf(getBitmap(s, 0x10_0000, 0x8000) as Uint8Array)).toEqual(all);
  });

  it("reports exactly the pages a pinned-scope device touched, and resets after each report", () => {
    const s = pinnedOnly();
    map(s, 0x10_0000, 0, 0x8000);
    write(s, "0000:01:00.0", 0x10_0000); // before START: not part of the record
    dirty(s, D.START);
    expect(setBitsOf(getBitmap(s, 0x10_0000, 0x8000) as Uint8Array)).toEqual([]);
    write(s, "0000:01:00.0", 0x10_2ff0, 0x20); // crosses into page 3
    write(s, "0000:01:00.0", 0x10_6000);
    expect(setBitsOf(getBitmap(s, 0x10_0000, 0x8000) as Uint8Array)).toEqual([2, 3, 6]);
    expect(setBitsOf(getBitmap(s, 0x10_0000, 0x8000) as Uint8Array)).toEqual([]);
  });

  it("trap 10: type1 bits are relative to the request's iova, and words no mapping touches are left as found", () => {
    const s = passthrough();
    // mapping A: pages 0-2 of the request; a hole covering all of bitmap word 1; mapping B: pages 128-129
    map(s, 0x100_0000, 0, 0x3000);
    map(s, 0x100_0000 + 128 * PG, 0x8000, 0x2000);
    dirty(s, D.START);
    const bitmap = new Uint8Array(24).fill(0xff);
    const out = getBitmap(s, 0x100_0000, 130 * PG, { bitmap }) as Uint8Array;
    // A's word is written whole (its bits past page 2 are cleared); word 1 is untouched; B's word is written whole
    expect([...out.subarray(0, 8)]).toEqual([0x07, 0, 0, 0, 0, 0, 0, 0]);
    expect([...out.subarray(8, 16)]).toEqual(new Array(8).fill(0xff));
    expect([...out.subarray(16, 24)]).toEqual([0x03, 0, 0, 0, 0, 0, 0, 0]);
    // a mapping that starts inside a word ORs into it
    const s2 = pinnedOnly();
    map(s2, 0x100_0000 + 5 * PG, 0, 0x2000);
    dirty(s2, D.START);
    write(s2, "0000:01:00.0", 0x100_0000 + 6 * PG);
    const pre = Uint8Array.of(0b0000_0011, 0, 0, 0, 0, 0, 0, 0);
    expect(setBitsOf(getBitmap(s2, 0x100_0000, 7 * PG, { bitmap: pre }) as Uint8Array)).toEqual([0, 1, 6]);
  });

  it("UNMAP_DMA with GET_DIRTY_BITMAP reports the unmapped range relative to its iova", () => {
    const s = pinnedOnly();
    map(s, 0x10_0000, 0, 0x4000);
    map(s, 0x10_4000, 0x4000, 0x4000);
    const arg = new Uint8Array(48);
    const bitmap = new Uint8Array(8);
    const unmapArg = (flags: number, argsz = 48, pgsize = 0x1000n, iova = 0x10_4000n, size = 0x4000n) => {
      vfio_iommu_type1_dma_unmap.encodeInto(arg, 0, { argsz, flags, iova, size });
      vfio_bitmap.encodeInto(arg, 24, { pgsize, size: 8n, data: s.m.kernel.addressOf(bitmap) });
      return errnoOf(() => s.m.kernel.ioctl(s.c, IOCTL.VFIO_IOMMU_UNMAP_DMA, arg));
    };
    const G = U.GET_DIRTY_BITMAP;
    expect(unmapArg(G)).toBe("EINVAL"); // tracking not started
    dirty(s, D.START);
    write(s, "0000:01:00.0", 0x10_5000);
    expect(unmapArg(G, 40)).toBe("EINVAL");
    expect(unmapArg(G | U.ALL)).toBe("EINVAL");
    expect(unmapArg(G, 48, 0x2000n)).toBe("EINVAL");
    expect(unmapArg(G)).toBe("ok");
    expect(vfio_iommu_type1_dma_unmap.decode(arg).size).toBe(0x4000n);
    expect(setBitsOf(bitmap)).toEqual([1]);
    expect(write(s, "0000:01:00.0", 0x10_5000)).toBe("fault");
  });

  it("when the last group outside pinned scope leaves, the next report still marks everything once", () => {
    const s = setup(VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU, [
      { name: "0000:01:00.0", groupId: 1, rid: RID_A },
      { name: "0000:02:00.0", groupId: 2, rid: RID_B, pinned: true },
    ]);
    map(s, 0x10_0000, 0, 0x4000);
    dirty(s, D.START);
    expect(setBitsOf(getBitmap(s, 0x10_0000, 0x4000) as Uint8Array)).toEqual([0, 1, 2, 3]);
    s.m.kernel.ioctl(s.groups[1]!, IOCTL.VFIO_GROUP_UNSET_CONTAINER);
    expect(setBitsOf(getBitmap(s, 0x10_0000, 0x4000) as Uint8Array)).toEqual([0, 1, 2, 3]);
    write(s, "0000:02:00.0", 0x10_1000);
    expect(setBitsOf(getBitmap(s, 0x10_0000, 0x4000) as Uint8Array)).toEqual([1]);
  });

  it("a group joining later gets every existing mapping (replay), and is refused if a mapping lies outside its aperture", () => {
    const s = setup(
      VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU,
      [
        { name: "mdev-a", groupId: 3, pinned: true },
        { name: "0000:01:00.0", groupId: 1, rid: RID_A },
      ],
      [3],
    );
    map(s, 0x10_0000, 0, 0x2000);
    const g1 = s.m.kernel.open("/dev/vfio/1");
    s.m.kernel.ioctl(g1, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(s.c));
    expect(write(s, "0000:01:00.0", 0x10_1000)).toBe("ok");
    s.m.kernel.ioctl(g1, IOCTL.VFIO_GROUP_UNSET_CONTAINER);
    expect(map(s, 2 ** 48, 0x4000, 0x1000)).toBe("ok"); // no domain: any IOVA
    expect(errnoOf(() => s.m.kernel.ioctl(g1, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(s.c)))).toBe("EINVAL");
  });

  it("in pinned scope reports exactly the written pages of any mapping layout (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 30 }), pages: fc.integer({ min: 1, max: 30 }) }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (layout, picks) => {
          const s = pinnedOnly();
          const base = 0x100_0000;
          let at = 0;
          const mapped: number[] = [];
          for (const { gap, pages } of layout) {
            at += gap;
            expect(map(s, base + at * PG, at * PG, pages * PG)).toBe("ok");
            for (let i = 0; i < pages; i++) mapped.push(at + i);
            at += pages;
          }
          dirty(s, D.START);
          const written = [...new Set(picks.map((n) => mapped[n % mapped.length]!))].sort((a, b) => a - b);
          for (const p of written) expect(write(s, "0000:01:00.0", base + p * PG)).toBe("ok");
          const first = layout[0]!.gap;
          const out = getBitmap(s, base + first * PG, (at - first) * PG) as Uint8Array;
          expect(setBitsOf(out)).toEqual(written.map((p) => p - first));
        },
      ),
      { seed: 42, numRuns: 60 },
    );
  });
});
