import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  IOCTL,
  IOMMU_HW_CAP,
  IOMMU_HWPT_ALLOC_FLAG,
  IOMMU_HWPT_DIRTY_TRACKING,
  IOMMU_HWPT_GET_DIRTY_BITMAP,
  IOMMU_IOAS_MAP_FLAG,
  IOMMU_OPTION_ID,
  IOMMU_OPTION_OP,
  IOMMU_VFIO_IOAS_OP,
  iommu_destroy,
  iommu_hw_info,
  iommu_hwpt_alloc,
  iommu_hwpt_get_dirty_bitmap,
  iommu_hwpt_set_dirty_tracking,
  iommu_iova_range,
  iommu_ioas_alloc,
  iommu_ioas_allow_iovas,
  iommu_ioas_copy,
  iommu_ioas_iova_ranges,
  iommu_ioas_map,
  iommu_ioas_unmap,
  iommu_option,
  iommu_vfio_ioas,
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_detach_iommufd_pt,
  type Mapping,
} from "../../hw-emu/uapi/index.js";
import { RID_A, RID_B, RID_C, dmaMachine, errnoNumberOf, errnoOf, guestRam, setBitsOf, type DmaMachine } from "./fixtures/dma-machine.js";

const PG = 0x1000;
const M = IOMMU_IOAS_MAP_FLAG.bits;
const RW = M.READABLE | M.WRITEABLE;
const U64_MAX = (1n << 64n) - 1n;
const DIRTY = IOMMU_HWPT_ALLOC_FLAG.bits.DIRTY_TRACKING;
const NO_CLEAR = IOMMU_HWPT_GET_DIRTY_BITMAP.bits.NO_CLEAR;

interface T {
  m: DmaMachine;
  ifd: number;
  ram: Mapping;
}

/** Devices A and B can track dirty pages; C's IOMMU cannot. */
function setup(): T {
  const m = dmaMachine(
    [
      { name: "0000:01:00.0", groupId: 1, rid: RID_A },
      { name: "0000:02:00.0", groupId: 2, rid: RID_B },
      { name: "0000:03:00.0", groupId: 3, rid: RID_C },
    ],
    { dirtyTracking: (d) => d.name !== "0000:03:00.0" },
  );
  return { m, ifd: m.kernel.open("/dev/iommu"), ram: guestRam(m.kernel, 0x10_0000) };
}

const A = "0000:01:00.0";
const B = "0000:02:00.0";
const C = "0000:03:00.0";

function bind(t: T, name: string): { fd: number; devid: number } {
  const fd = t.m.kernel.open(t.m.dev[name]!.cdev);
  const arg = vfio_device_bind_iommufd.encode({ argsz: 24, iommufd: t.ifd });
  t.m.kernel.ioctl(fd, IOCTL.VFIO_DEVICE_BIND_IOMMUFD, arg);
  return { fd, devid: vfio_device_bind_iommufd.decode(arg).out_devid };
}

function attach(t: T, fd: number, ptId: number): number {
  const arg = vfio_device_attach_iommufd_pt.encode({ argsz: 16, pt_id: ptId });
  t.m.kernel.ioctl(fd, IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, arg);
  return vfio_device_attach_iommufd_pt.decode(arg).pt_id;
}

function detach(t: T, fd: number): void {
  t.m.kernel.ioctl(fd, IOCTL.VFIO_DEVICE_DETACH_IOMMUFD_PT, vfio_device_detach_iommufd_pt.encode({ argsz: 12 }));
}

function ioasAlloc(t: T): number {
  const arg = iommu_ioas_alloc.encode({});
  t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_IOAS_ALLOC, arg);
  return iommu_ioas_alloc.decode(arg).out_ioas_id;
}

function ioasMap(t: T, ioas: number, o: { off?: number; length: number; iova?: bigint | number; flags?: number; va?: bigint }): bigint | string {
  const flags = o.flags ?? (RW | (o.iova !== undefined ? M.FIXED_IOVA : 0));
  const arg = iommu_ioas_map.encode({ flags, ioas_id: ioas, user_va: o.va ?? t.ram.addr + BigInt(o.off ?? 0), length: BigInt(o.length), iova: BigInt(o.iova ?? 0) });
  const e = errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_IOAS_MAP, arg));
  return e === "ok" ? iommu_ioas_map.decode(arg).iova : e;
}

function ioasUnmap(t: T, ioas: number, iova: bigint | number, length: bigint | number): bigint | string {
  const arg = iommu_ioas_unmap.encode({ ioas_id: ioas, iova: BigInt(iova), length: BigInt(length) });
  const e = errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_IOAS_UNMAP, arg));
  return e === "ok" ? iommu_ioas_unmap.decode(arg).length : e;
}

function hwptAlloc(t: T, devid: number, ptId: number, flags = 0, extra: Partial<Parameters<typeof iommu_hwpt_alloc.encode>[0] & object> = {}): number | string {
  const arg = iommu_hwpt_alloc.encode({ flags, dev_id: devid, pt_id: ptId, ...extra });
  const e = errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_HWPT_ALLOC, arg));
  return e === "ok" ? iommu_hwpt_alloc.decode(arg).out_hwpt_id : e;
}

function setDirty(t: T, hwpt: number, flags: number): string {
  return errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_HWPT_SET_DIRTY_TRACKING, iommu_hwpt_set_dirty_tracking.encode({ flags, hwpt_id: hwpt })));
}

function getDirty(t: T, hwpt: number, iova: bigint | number, length: bigint | number, o: { pageSize?: bigint | number; flags?: number; data?: bigint; bitmap?: Uint8Array; reserved?: number } = {}): string {
  const bitmap = o.bitmap ?? new Uint8Array(64);
  const arg = iommu_hwpt_get_dirty_bitmap.encode({
    hwpt_id: hwpt,
    flags: o.flags ?? 0,
    __reserved: o.reserved ?? 0,
    iova: BigInt(iova),
    length: BigInt(length),
    page_size: BigInt(o.pageSize ?? PG),
    data: o.data ?? t.m.kernel.addressOf(bitmap),
  });
  return errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_HWPT_GET_DIRTY_BITMAP, arg));
}

function destroy(t: T, id: number): string {
  return errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_DESTROY, iommu_destroy.encode({ id })));
}

const dmaWrite = (t: T, name: string, iova: number, len = 1) => t.m.dev[name]!.port!.write(iova, new Uint8Array(len).fill(0xc3));

describe("iommufd: generic dispatch", () => {
  it("trap 13: size below the minimum is EINVAL, non-zero bytes past the struct E2BIG, unknown flags and reserved fields EOPNOTSUPP", () => {
    const t = setup();
    const k = t.m.kernel;
    expect(errnoOf(() => k.ioctl(t.ifd, IOCTL.IOMMU_IOAS_ALLOC, iommu_ioas_alloc.encode({ size: 11 })))).toBe("EINVAL");
    const big = iommu_ioas_alloc.encode({}, { totalSize: 24 });
    expect(errnoOf(() => k.ioctl(t.ifd, IOCTL.IOMMU_IOAS_ALLOC, big))).toBe("ok");
    big[20] = 1;
    expect(errnoOf(() => k.ioctl(t.ifd, IOCTL.IOMMU_IOAS_ALLOC, big))).toBe("E2BIG");
    expect(errnoOf(() => k.ioctl(t.ifd, IOCTL.IOMMU_IOAS_ALLOC, iommu_ioas_alloc.encode({ flags: 1 })))).toBe("EOPNOTSUPP");
    const ioas = ioasAlloc(t);
    expect(errnoOf(() => k.ioctl(t.ifd, IOCTL.IOMMU_IOAS_MAP, iommu_ioas_map.encode({ flags: RW, ioas_id: ioas, __reserved: 1, user_va: t.ram.addr, length: 0x1000n })))).toBe("EOPNOTSUPP");
    expect(ioasMap(t, ioas, { length: PG, flags: RW | 0x8 })).toBe("EOPNOTSUPP");
    // an old, shorter HWPT_ALLOC (24 bytes, through __reserved) is accepted
    expect(errnoOf(() => k.ioctl(t.ifd, IOCTL.IOMMU_HWPT_ALLOC, iommu_hwpt_alloc.encode({ size: 23 })))).toBe("EINVAL");
    expect(errnoOf(() => k.ioctl(t.ifd, IOCTL.IOMMU_HWPT_ALLOC, iommu_hwpt_alloc.encode({ size: 24, dev_id: 77 })))).toBe("ENOENT");
    expect(errnoOf(() => k.ioctl(t.ifd, 0x3b8d, new Uint8Array(32)))).toBe("ENOTTY");
    expect(errnoOf(() => k.ioctl(t.ifd, IOCTL.VFIO_GET_API_VERSION))).toBe("ENOTTY");
    expect(errnoOf(() => k.ioctl(t.ifd, IOCTL.IOMMU_IOAS_ALLOC | (12 << 16), iommu_ioas_alloc.encode({})))).toBe("ENOTTY");
  });

  it("gives object ids from 1, reuses the lowest free one, and DESTROY refuses held objects", () => {
    const t = setup();
    expect([ioasAlloc(t), ioasAlloc(t), ioasAlloc(t)]).toEqual([1, 2, 3]);
    expect(destroy(t, 2)).toBe("ok");
    expect(destroy(t, 2)).toBe("ENOENT");
    expect(ioasAlloc(t)).toBe(2);
    const { devid } = bind(t, A);
    expect(devid).toBe(4);
    expect(destroy(t, devid)).toBe("EBUSY");
    const hwpt = hwptAlloc(t, devid, 1) as number;
    expect(destroy(t, 1)).toBe("EBUSY");
    expect(destroy(t, hwpt)).toBe("ok");
    expect(destroy(t, 1)).toBe("ok");
  });
});

describe("iommufd: IOAS", () => {
  it("IOAS_MAP: fixed or kernel-chosen IOVA, and its errors", () => {
    const t = setup();
    const ioas = ioasAlloc(t);
    expect(ioasMap(t, ioas, { length: 0x4000, iova: 0x10_0000 })).toBe(0x10_0000n);
    expect(ioasMap(t, ioas, { length: 0x1000, off: 0x8000, iova: 0x10_3000 })).toBe("EEXIST");
    expect(ioasMap(t, ioas, { length: 0x1000, iova: 0x10_4800 })).toBe("EINVAL");
    expect(ioasMap(t, ioas, { length: 0x1800, iova: 0x20_0000 })).toBe("EINVAL");
    expect(ioasMap(t, ioas, { length: 0x1000, flags: M.FIXED_IOVA, iova: 0x30_0000 })).toBe("EINVAL");
    expect(ioasMap(t, ioas, { length: 0, iova: 0x30_0000 })).toBe("EINVAL");
    expect(ioasMap(t, ioas, { length: 0x1000, iova: U64_MAX })).toBe("EOVERFLOW");
    expect(ioasMap(t, ioas, { length: 0x2000, iova: U64_MAX - 0xfffn })).toBe("EOVERFLOW");
    expect(ioasMap(t, 99, { length: 0x1000, iova: 0x30_0000 })).toBe("ENOENT");
    const buf = new Uint8Array(0x3000);
    expect(ioasMap(t, ioas, { length: 0x1000, iova: 0x30_0000, va: (t.m.kernel.addressOf(buf) + 0xfffn) & ~0xfffn })).toBe("EFAULT");
    const auto = ioasMap(t, ioas, { length: 0x4000, off: 0x10000 }) as bigint;
    expect(auto).toBeGreaterThan(0n);
    expect(auto % 0x4000n).toBe(0n);
    expect(auto + 0x4000n <= 0x10_0000n || auto >= 0x10_4000n).toBe(true);
  });

  it("IOAS_UNMAP never splits an area (ENOENT), writes back the length, and 0/U64_MAX unmaps everything", () => {
    const t = setup();
    const ioas = ioasAlloc(t);
    ioasMap(t, ioas, { length: 0x4000, iova: 0x10_0000 });
    ioasMap(t, ioas, { length: 0x2000, off: 0x4000, iova: 0x10_4000 });
    ioasMap(t, ioas, { length: 0x1000, off: 0x8000, iova: 0x40_0000 });
    expect(ioasUnmap(t, ioas, 0x10_1000, 0x1000)).toBe("ENOENT");
    expect(ioasUnmap(t, ioas, 0x20_0000, 0x1000)).toBe("ENOENT");
    expect(ioasUnmap(t, ioas, 0x10_0000, 0)).toBe("EINVAL");
    expect(ioasUnmap(t, ioas, U64_MAX, 1)).toBe("EOVERFLOW");
    expect(ioasUnmap(t, ioas, 0x10_0000, 0x6000)).toBe(0x6000n);
    expect(ioasUnmap(t, ioas, 0, U64_MAX)).toBe(0x1000n);
    expect(ioasUnmap(t, ioas, 0, U64_MAX)).toBe(0n);
  });

  it("IOAS_COPY maps the same pages into another IOAS", () => {
    const t = setup();
    const src = ioasAlloc(t);
    const dst = ioasAlloc(t);
    ioasMap(t, src, { length: 0x2000, iova: 0x10_0000 });
    ioasMap(t, src, { length: 0x2000, off: 0x2000, iova: 0x10_2000 });
    const copy = (o: Partial<Parameters<typeof iommu_ioas_copy.encode>[0] & object>) => {
      const arg = iommu_ioas_copy.encode({ flags: RW | M.FIXED_IOVA, dst_ioas_id: dst, src_ioas_id: src, length: 0x3000n, dst_iova: 0x80_0000n, src_iova: 0x10_1000n, ...o });
      const e = errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_IOAS_COPY, arg));
      return e === "ok" ? iommu_ioas_copy.decode(arg).dst_iova : e;
    };
    expect(copy({ flags: 0x10 | RW })).toBe("EOPNOTSUPP");
    expect(copy({ flags: M.FIXED_IOVA })).toBe("EINVAL");
    expect(copy({ src_iova: 0x10_3000n })).toBe("ENOENT");
    expect(copy({ src_ioas_id: 42 })).toBe("ENOENT");
    expect(copy({})).toBe(0x80_0000n);
    const { fd } = bind(t, A);
    attach(t, fd, dst);
    expect(dmaWrite(t, A, 0x80_2000)).toBe("ok");
    expect(t.ram.read(0x3000, 1)[0]).toBe(0xc3);
    // the copy is two areas, one per source area
    expect(ioasUnmap(t, dst, 0x80_0000, 0x1000)).toBe(0x1000n);
  });

  it("IOVA_RANGES: EMSGSIZE with the needed count, then the ranges; a HWPT reserves what lies beyond its aperture", () => {
    const t = setup();
    const ioas = ioasAlloc(t);
    const ranges = new Uint8Array(2 * iommu_iova_range.size);
    const query = (num: number, reserved = 0) => {
      const arg = iommu_ioas_iova_ranges.encode({ ioas_id: ioas, num_iovas: num, __reserved: reserved, allowed_iovas: t.m.kernel.addressOf(ranges) });
      const e = errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_IOAS_IOVA_RANGES, arg));
      return { e, out: iommu_ioas_iova_ranges.decode(arg) };
    };
    expect(query(1, 1).e).toBe("EOPNOTSUPP");
    const first = query(0);
    expect(first.e).toBe("EMSGSIZE");
    expect(first.out).toMatchObject({ num_iovas: 1, out_iova_alignment: 4096n });
    expect(query(2).e).toBe("ok");
    expect(iommu_iova_range.decode(ranges)).toEqual({ start: 0n, last: U64_MAX });
    const { devid } = bind(t, A);
    hwptAlloc(t, devid, ioas);
    expect(query(1).out.num_iovas).toBe(1);
    expect(iommu_iova_range.decode(ranges)).toEqual({ start: 0n, last: (1n << 48n) - 1n });
    // now the space above 2^48 is reserved
    expect(ioasMap(t, ioas, { length: PG, iova: 1n << 48n })).toBe("EINVAL");
  });

  it("ALLOW_IOVAS restricts kernel-chosen IOVAs and may not cover reserved ranges", () => {
    const t = setup();
    const ioas = ioasAlloc(t);
    const list = new Uint8Array(2 * iommu_iova_range.size);
    const allowRaw = (spans: [bigint, bigint][]) => {
      spans.forEach(([start, last], i) => iommu_iova_range.encodeInto(list, i * 16, { start, last }));
      t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_IOAS_ALLOW_IOVAS, iommu_ioas_allow_iovas.encode({ ioas_id: ioas, num_iovas: spans.length, allowed_iovas: t.m.kernel.addressOf(list) }));
    };
    const allow = (spans: [bigint, bigint][]) => errnoOf(() => allowRaw(spans));
    expect(allow([[0x5000_0000n, 0x5000_0000n]])).toBe("EINVAL");
    expect(allow([[0x1000n, 0x9fffn], [0x8000n, 0xffffn]])).toBe("EINVAL");
    expect(allow([[0x5000_0000n, 0x5fff_ffffn]])).toBe("ok");
    expect(ioasMap(t, ioas, { length: 0x4000 })).toBe(0x5000_0000n);
    // a fixed IOVA is not limited by the allowed ranges
    expect(ioasMap(t, ioas, { length: PG, off: 0x8000, iova: 0x1000 })).toBe(0x1000n);
    expect(allow([])).toBe("ok");
    const { devid } = bind(t, A);
    expect(typeof hwptAlloc(t, devid, ioas)).toBe("number");
    expect(errnoNumberOf(() => allowRaw([[0x1_0000_0000_0000n, 0x2_0000_0000_0000n]]))).toBe(98);
  });

  it("OPTION: RLIMIT_MODE per context, HUGE_PAGES per IOAS", () => {
    const t = setup();
    const O = IOMMU_OPTION_OP.values;
    const I = IOMMU_OPTION_ID.values;
    const opt = (o: Partial<Parameters<typeof iommu_option.encode>[0] & object>) => {
      const arg = iommu_option.encode(o);
      const e = errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_OPTION, arg));
      return e === "ok" ? iommu_option.decode(arg).val64 : e;
    };
    expect(opt({ option_id: I.RLIMIT_MODE, op: O.GET })).toBe(0n);
    expect(opt({ option_id: I.RLIMIT_MODE, op: O.SET, val64: 2n })).toBe("EINVAL");
    expect(opt({ option_id: I.RLIMIT_MODE, op: O.SET, val64: 1n })).toBe(1n);
    expect(opt({ option_id: I.RLIMIT_MODE, op: O.GET })).toBe(1n);
    expect(opt({ option_id: I.RLIMIT_MODE, op: O.GET, object_id: 1 })).toBe("EOPNOTSUPP");
    expect(opt({ option_id: I.RLIMIT_MODE, op: 7 })).toBe("EOPNOTSUPP");
    expect(opt({ option_id: I.RLIMIT_MODE, op: O.GET, __reserved: 1 })).toBe("EOPNOTSUPP");
    expect(opt({ option_id: 9, op: O.GET })).toBe("EOPNOTSUPP");
    const ioas = ioasAlloc(t);
    expect(opt({ option_id: I.RLIMIT_MODE, op: O.SET, val64: 0n })).toBe("EBUSY");
    expect(opt({ option_id: I.HUGE_PAGES, op: O.GET, object_id: ioas })).toBe(1n);
    expect(opt({ option_id: I.HUGE_PAGES, op: O.GET, object_id: 77 })).toBe("ENOENT");
    expect(opt({ option_id: I.HUGE_PAGES, op: O.SET, object_id: ioas, val64: 0n })).toBe(0n);
    expect(opt({ option_id: I.HUGE_PAGES, op: O.GET, object_id: ioas })).toBe(0n);
    // with huge pages off, a 2 MiB-aligned mapping still gets 4 KiB leaves
    const { devid, fd } = bind(t, A);
    attach(t, fd, ioas);
    const ram = guestRam(t.m.kernel, 0x40_0000);
    const va = (ram.addr + 0x1f_ffffn) & ~0x1f_ffffn;
    ioasMap(t, ioas, { length: 0x20_0000, iova: 0x20_0000, va });
    expect(t.m.iommu.domainOf(RID_A)!.lookup(0x20_0000)!.size).toBe(PG);
    expect(opt({ option_id: I.HUGE_PAGES, op: O.SET, object_id: ioas, val64: 1n })).toBe(1n);
    expect(opt({ option_id: I.HUGE_PAGES, op: O.SET, object_id: ioas, val64: 0n })).toBe("EINVAL");
    void devid;
  });

  it("VFIO_IOAS: GET, SET and CLEAR of the compatibility IOAS", () => {
    const t = setup();
    const V = IOMMU_VFIO_IOAS_OP.values;
    const vio = (op: number, ioas = 0, reserved = 0) => {
      const arg = iommu_vfio_ioas.encode({ op, ioas_id: ioas, __reserved: reserved });
      const e = errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_VFIO_IOAS, arg));
      return e === "ok" ? iommu_vfio_ioas.decode(arg).ioas_id : e;
    };
    expect(vio(V.GET)).toBe("ENODEV");
    expect(vio(V.SET, 5)).toBe("ENOENT");
    const ioas = ioasAlloc(t);
    expect(vio(V.SET, ioas)).toBe(ioas);
    expect(vio(V.GET)).toBe(ioas);
    expect(vio(V.GET, 0, 1)).toBe("EOPNOTSUPP");
    expect(vio(9)).toBe("EOPNOTSUPP");
    expect(vio(V.CLEAR)).toBe(0);
    expect(vio(V.GET)).toBe("ENODEV");
    vio(V.SET, ioas);
    destroy(t, ioas);
    expect(vio(V.GET)).toBe("ENODEV");
  });
});

describe("iommufd: devices and HWPTs", () => {
  it("GET_HW_INFO reports the dirty capability per device and zeroes the caller's data buffer", () => {
    const t = setup();
    const a = bind(t, A);
    const c = bind(t, C);
    const data = new Uint8Array(16).fill(0xee);
    const info = (devid: number, o: Partial<Parameters<typeof iommu_hw_info.encode>[0] & object> = {}) => {
      const arg = iommu_hw_info.encode({ dev_id: devid, data_len: data.length, data_uptr: t.m.kernel.addressOf(data), ...o });
      const e = errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_GET_HW_INFO, arg));
      return e === "ok" ? iommu_hw_info.decode(arg) : e;
    };
    expect(info(99)).toBe("ENOENT");
    expect(info(a.devid, { flags: 1 })).toBe("EOPNOTSUPP");
    const ia = info(a.devid) as ReturnType<typeof iommu_hw_info.decode>;
    expect(ia).toMatchObject({ data_len: 0, out_data_type: 0, out_capabilities: BigInt(IOMMU_HW_CAP.bits.DIRTY_TRACKING) });
    expect([...data]).toEqual(new Array(16).fill(0));
    expect((info(c.devid) as ReturnType<typeof iommu_hw_info.decode>).out_capabilities).toBe(0n);
    expect(info(a.devid, { data_uptr: 0x10n })).toBe("EFAULT");
    // the 32-byte form (before out_capabilities) is accepted
    expect(errnoOf(() => t.m.kernel.ioctl(t.ifd, IOCTL.IOMMU_GET_HW_INFO, iommu_hw_info.encode({ size: 32, dev_id: a.devid })))).toBe("ok");
  });

  it("HWPT_ALLOC: paging HWPTs from an IOAS; dirty tracking only where the IOMMU has it; no nesting", () => {
    const t = setup();
    const ioas = ioasAlloc(t);
    const a = bind(t, A);
    const c = bind(t, C);
    expect(hwptAlloc(t, 77, ioas)).toBe("ENOENT");
    expect(hwptAlloc(t, a.devid, 77)).toBe("EINVAL");
    expect(hwptAlloc(t, a.devid, c.devid)).toBe("EINVAL");
    expect(hwptAlloc(t, a.devid, ioas, 0, { __reserved: 1 })).toBe("EOPNOTSUPP");
    expect(hwptAlloc(t, a.devid, ioas, 0x40)).toBe("EOPNOTSUPP");
    expect(hwptAlloc(t, a.devid, ioas, IOMMU_HWPT_ALLOC_FLAG.bits.FAULT_ID_VALID)).toBe("EOPNOTSUPP");
    expect(hwptAlloc(t, a.devid, ioas, 0, { data_len: 8 })).toBe("EINVAL");
    expect(hwptAlloc(t, a.devid, ioas, 0, { data_type: 1, data_len: 8 })).toBe("EOPNOTSUPP");
    expect(hwptAlloc(t, c.devid, ioas, DIRTY)).toBe("EOPNOTSUPP");
    const parent = hwptAlloc(t, a.devid, ioas, IOMMU_HWPT_ALLOC_FLAG.bits.NEST_PARENT) as number;
    expect(parent).toBeGreaterThan(0);
    expect(hwptAlloc(t, a.devid, parent, 0, { data_type: 1, data_len: 8 })).toBe("EOPNOTSUPP");
    expect(typeof hwptAlloc(t, a.devid, ioas, DIRTY)).toBe("number");
  });

  it("attach: to an IOAS (auto HWPT, shared), to a HWPT, re-attach replaces, detach blocks DMA", () => {
    const t = setup();
    const ioas = ioasAlloc(t);
    const a = bind(t, A);
    const b = bind(t, B);
    const c = bind(t, C);
    // map before attach ...
    ioasMap(t, ioas, { length: 0x4000, iova: 0x10_0000 });
    expect(errnoOf(() => attach(t, a.fd, 99))).toBe("ENOENT");
    expect(errnoOf(() => attach(t, a.fd, c.devid))).toBe("EINVAL");
    const auto = attach(t, a.fd, ioas);
    expect(auto).not.toBe(ioas);
    expect(attach(t, b.fd, ioas)).toBe(auto);
    expect(dmaWrite(t, A, 0x10_1000)).toBe("ok");
    // ... and map after attach
    ioasMap(t, ioas, { length: 0x1000, off: 0x8000, iova: 0x20_0000 });
    expect(dmaWrite(t, B, 0x20_0000)).toBe("ok");
    expect(t.ram.read(0x8000, 1)[0]).toBe(0xc3);
    // a device whose IOMMU cannot track may not join a dirty-tracking HWPT
    const dirtyHwpt = hwptAlloc(t, a.devid, ioas, DIRTY) as number;
    expect(errnoOf(() => attach(t, c.fd, dirtyHwpt))).toBe("EINVAL");
    // re-attach replaces; the auto HWPT goes with its last device
    expect(attach(t, a.fd, dirtyHwpt)).toBe(dirtyHwpt);
    expect(destroy(t, auto)).toBe("EBUSY");
    attach(t, b.fd, dirtyHwpt);
    expect(destroy(t, auto)).toBe("ENOENT");
    expect(dmaWrite(t, A, 0x10_0000)).toBe("ok");
    detach(t, a.fd);
    expect(dmaWrite(t, A, 0x10_0000)).toBe("fault");
    expect(t.m.iommu.faults.at(-1)).toMatchObject({ requesterId: RID_A, reason: "no-domain" });
    detach(t, a.fd);
    // closing the device fd unbinds it and detaches it
    t.m.kernel.close(b.fd);
    expect(dmaWrite(t, B, 0x10_0000)).toBe("fault");
    expect(destroy(t, dirtyHwpt)).toBe("ok");
  });

  it("closing the iommufd while devices are bound defers the teardown to the last unbind", () => {
    const t = setup();
    const ioas = ioasAlloc(t);
    ioasMap(t, ioas, { length: 0x4000, iova: 0x10_0000 });
    const a = bind(t, A);
    attach(t, a.fd, ioas);
    t.m.kernel.close(t.ifd);
    expect(dmaWrite(t, A, 0x10_0000)).toBe("ok");
    expect(t.m.iommu.listDomains()).toHaveLength(1);
    t.m.kernel.close(a.fd);
    expect(t.m.iommu.listDomains()).toHaveLength(0);
  });
});

describe("iommufd: dirty tracking", () => {
  function dirtySetup() {
    const t = setup();
    const ioas = ioasAlloc(t);
    const a = bind(t, A);
    ioasMap(t, ioas, { length: 0x10_0000, iova: 0x100_0000 });
    const hwpt = hwptAlloc(t, a.devid, ioas, DIRTY) as number;
    attach(t, a.fd, hwpt);
    return { t, ioas, a, hwpt };
  }

  it("trap 12: an auto-created HWPT has no dirty tracking; GET_DIRTY_BITMAP returns 0 even when the walk fails", () => {
    const t = setup();
    const ioas = ioasAlloc(t);
    const a = bind(t, A);
    ioasMap(t, ioas, { length: 0x8000, iova: 0x100_0000 });
    const auto = attach(t, a.fd, ioas);
    expect(setDirty(t, auto, IOMMU_HWPT_DIRTY_TRACKING.bits.ENABLE)).toBe("EOPNOTSUPP");
    expect(getDirty(t, auto, 0x100_0000, 0x8000)).toBe("EOPNOTSUPP");
    // an explicit dirty HWPT: failures inside the walk are swallowed
    const { t: t2, hwpt } = dirtySetup();
    const bitmap = new Uint8Array(64);
    dmaWrite(t2, A, 0x100_0000);
    expect(getDirty(t2, hwpt, 0x100_0000, 0x10_0000, { bitmap })).toBe("ok"); // tracking off: nothing reported
    expect(setBitsOf(bitmap)).toEqual([]);
    setDirty(t2, hwpt, IOMMU_HWPT_DIRTY_TRACKING.bits.ENABLE);
    dmaWrite(t2, A, 0x100_3000);
    expect(getDirty(t2, hwpt, 0x100_0000, 0x10_0000, { data: 0x10n })).toBe("ok"); // bad user pointer
    expect(getDirty(t2, hwpt, 0x0ff_0000, 0x20_0000, { bitmap: new Uint8Array(128) })).toBe("ok"); // starts in a hole
    const after = new Uint8Array(64);
    expect(getDirty(t2, hwpt, 0x100_0000, 0x10_0000, { bitmap: after })).toBe("ok");
    expect(setBitsOf(after)).toEqual([3]); // the failed calls neither reported nor cleared it
  });

  it("SET_DIRTY_TRACKING and GET_DIRTY_BITMAP argument checks", () => {
    const { t, hwpt, ioas } = dirtySetup();
    const E = IOMMU_HWPT_DIRTY_TRACKING.bits.ENABLE;
    expect(setDirty(t, hwpt, 2)).toBe("EOPNOTSUPP");
    expect(setDirty(t, 99, E)).toBe("ENOENT");
    expect(setDirty(t, ioas, E)).toBe("ENOENT");
    expect(setDirty(t, hwpt, E)).toBe("ok");
    expect(setDirty(t, hwpt, E)).toBe("ok");
    expect(getDirty(t, hwpt, 0x100_0000, 0x1000, { flags: 2 })).toBe("EOPNOTSUPP");
    expect(getDirty(t, hwpt, 0x100_0000, 0x1000, { reserved: 1 })).toBe("EOPNOTSUPP");
    expect(getDirty(t, 99, 0x100_0000, 0x1000)).toBe("ENOENT");
    expect(getDirty(t, hwpt, U64_MAX - 0xfffn, 0x2000)).toBe("EOVERFLOW");
    expect(getDirty(t, hwpt, 0x100_0800, 0x1000)).toBe("EINVAL");
    expect(getDirty(t, hwpt, 0x100_0000, 0x1800)).toBe("EINVAL");
    expect(getDirty(t, hwpt, 0x100_0000, 0x1000, { pageSize: 0 })).toBe("EINVAL");
    expect(getDirty(t, hwpt, 0x100_1000, 0x2000, { pageSize: 0x2000 })).toBe("EINVAL");
    expect(getDirty(t, hwpt, 0x100_0000, 0x1000)).toBe("ok");
    expect(setDirty(t, hwpt, 0)).toBe("ok");
  });

  it("enabling tracking clears stale dirty bits", () => {
    const { t, hwpt } = dirtySetup();
    const E = IOMMU_HWPT_DIRTY_TRACKING.bits.ENABLE;
    setDirty(t, hwpt, E);
    dmaWrite(t, A, 0x100_2000);
    setDirty(t, hwpt, E); // again, while on: still starts clean
    dmaWrite(t, A, 0x100_5000);
    const bitmap = new Uint8Array(32);
    getDirty(t, hwpt, 0x100_0000, 0x10_0000, { bitmap });
    expect(setBitsOf(bitmap)).toEqual([5]);
  });

  it("full flow: map, dirty HWPT, attach, enable, DMA, NO_CLEAR twice, clearing read, then empty", () => {
    const t = setup();
    const ioas = ioasAlloc(t);
    expect(ioasMap(t, ioas, { length: 0x10_0000, iova: 0x100_0000 })).toBe(0x100_0000n);
    const a = bind(t, A);
    const hwpt = hwptAlloc(t, a.devid, ioas, DIRTY) as number;
    expect(attach(t, a.fd, hwpt)).toBe(hwpt);
    expect(setDirty(t, hwpt, IOMMU_HWPT_DIRTY_TRACKING.bits.ENABLE)).toBe("ok");
    dmaWrite(t, A, 0x100_1000);
    dmaWrite(t, A, 0x100_4ff8, 16); // pages 4 and 5
    dmaWrite(t, A, 0x10f_f000);
    const read = (flags: number) => {
      const bitmap = new Uint8Array(32);
      expect(getDirty(t, hwpt, 0x100_0000, 0x10_0000, { flags, bitmap })).toBe("ok");
      return setBitsOf(bitmap);
    };
    expect(read(NO_CLEAR)).toEqual([1, 4, 5, 255]);
    expect(read(NO_CLEAR)).toEqual([1, 4, 5, 255]);
    expect(read(0)).toEqual([1, 4, 5, 255]);
    expect(read(0)).toEqual([]);
  });

  it("trap 10: iommufd bits are relative to the request's iova and only ever set, at any page size and buffer alignment", () => {
    const { t, hwpt } = dirtySetup();
    setDirty(t, hwpt, IOMMU_HWPT_DIRTY_TRACKING.bits.ENABLE);
    const writes = () => {
      dmaWrite(t, A, 0x100_8000);
      dmaWrite(t, A, 0x100_b000);
    };
    writes();
    // relative to iova 0x100_8000, in a buffer with stale bits the kernel must leave alone
    const stale = new Uint8Array(16);
    stale[1] = 0x80;
    getDirty(t, hwpt, 0x100_8000, 0x8000, { bitmap: stale });
    expect(setBitsOf(stale)).toEqual([0, 3, 15]);
    // an unaligned user pointer
    writes();
    const backing = new Uint8Array(0x1100);
    const view = backing.subarray(0xff1);
    getDirty(t, hwpt, 0x100_0000, 0x10_0000, { data: t.m.kernel.addressOf(backing) + 0xff1n });
    expect(setBitsOf(view.subarray(0, 32))).toEqual([8, 11]);
    // a coarser page: one bit per 8 KiB
    writes();
    const coarse = new Uint8Array(16);
    getDirty(t, hwpt, 0x100_0000, 0x10_0000, { pageSize: 0x2000, bitmap: coarse });
    expect(setBitsOf(coarse)).toEqual([4, 5]);
    // a finer page: a dirty 4 KiB IOPTE sets every bit it covers
    writes();
    const fine = new Uint8Array(16);
    getDirty(t, hwpt, 0x100_8000, 0x4000, { pageSize: 0x800, bitmap: fine });
    expect(setBitsOf(fine)).toEqual([0, 1, 6, 7]);
  });

  it("reports exactly the written pages for any window and page size (property)", () => {
    const { t, hwpt } = dirtySetup();
    setDirty(t, hwpt, IOMMU_HWPT_DIRTY_TRACKING.bits.ENABLE);
    const base = 0x100_0000;
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { maxLength: 12 }),
        fc.constantFrom(0, 1, 2, 3),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        (pages, shift, startUnit, units, noClear) => {
          const ps = PG << shift;
          const perUnit = ps / PG;
          const start = Math.min(startUnit, Math.floor(64 / perUnit) - 1);
          const count = Math.min(units, Math.floor(64 / perUnit) - start);
          for (const p of pages) dmaWrite(t, A, base + p * PG);
          const bitmap = new Uint8Array(16);
          expect(getDirty(t, hwpt, base + start * ps, count * ps, { pageSize: ps, bitmap, flags: noClear ? NO_CLEAR : 0 })).toBe("ok");
          const inWindow = pages.filter((p) => p >= start * perUnit && p < (start + count) * perUnit);
          const expected = [...new Set(inWindow.map((p) => Math.floor(p / perUnit) - start))].sort((a, b) => a - b);
          expect(setBitsOf(bitmap)).toEqual(expected);
          // leave the IOPTEs clean for the next run
          getDirty(t, hwpt, base, 0x10_0000, { bitmap: new Uint8Array(32) });
        },
      ),
      { seed: 42, numRuns: 150 },
    );
  });
});
