/**
 * The type1 ioctls on a container fd once SET_IOMMU chose type1: argument
 * decoding with the kernel's argsz and flag rules, then the backend's
 * semantics. GET_INFO answers with the argsz-grows capability protocol.
 */
import {
  Errno,
  IOCTL,
  VFIO_DMA_MAP_FLAG,
  VFIO_DMA_UNMAP_FLAG,
  VFIO_IOMMU_DIRTY_PAGES_FLAG,
  VFIO_IOMMU_INFO,
  VFIO_IOMMU_TYPE1_INFO_CAP,
  buildCapChain,
  copyOut,
  unknownFlagBits,
  vfio_bitmap,
  vfio_info_cap_header,
  vfio_iommu_type1_dirty_bitmap,
  vfio_iommu_type1_dirty_bitmap_get,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
  vfio_iommu_type1_info_cap_iova_range,
  vfio_iommu_type1_info_cap_migration,
  vfio_iommu_type1_info_dma_avail,
  vfio_iova_range,
  type Capability,
} from "../../uapi/index.js";
import type { IoctlArg } from "../file.js";
import type { UserAddressSpace } from "../user-memory.js";
import { copyInVfio } from "../user-args.js";
import { lowestBit } from "../../sim/bitmap.js";
import { DIRTY_BITMAP_SIZE_MAX, checkUserRange, verifyBitmapSize } from "./type1-bitmap.js";
import type { Type1Iommu } from "./type1.js";

const U64 = 1n << 64n;
const HEADER = vfio_info_cap_header.size;

/** A type1 request on a container with the backend set; anything else is ENOTTY. */
export function type1Ioctl(t: Type1Iommu, user: UserAddressSpace, request: number, arg: IoctlArg): number {
  switch (request) {
    case IOCTL.VFIO_IOMMU_GET_INFO:
      return getInfo(t, user, arg);
    case IOCTL.VFIO_IOMMU_MAP_DMA:
      return mapDma(t, user, arg);
    case IOCTL.VFIO_IOMMU_UNMAP_DMA:
      return unmapDma(t, user, arg);
    case IOCTL.VFIO_IOMMU_DIRTY_PAGES:
      return dirtyPages(t, user, arg);
    default:
      throw new Errno("ENOTTY", `request 0x${request.toString(16)} is not a type1 container ioctl`, "ioctl");
  }
}

function body(bytes: Uint8Array): Uint8Array {
  return bytes.subarray(HEADER);
}

/** The capabilities GET_INFO reports, in the kernel's order. */
function capabilities(t: Type1Iommu): Capability[] {
  const C = VFIO_IOMMU_TYPE1_INFO_CAP;
  const caps: Capability[] = [
    {
      id: C.VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
      version: 1,
      body: body(vfio_iommu_type1_info_cap_migration.encode({ flags: 0, pgsize_bitmap: t.minPageSize, max_dirty_bitmap_size: DIRTY_BITMAP_SIZE_MAX })),
    },
    { id: C.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1, body: body(vfio_iommu_type1_info_dma_avail.encode({ avail: t.dmaAvailable })) },
  ];
  const ranges = t.iovaRanges;
  if (ranges.length > 0) {
    const fixed = vfio_iommu_type1_info_cap_iova_range.encode({ nr_iovas: ranges.length });
    const out = new Uint8Array(fixed.byteLength + ranges.length * vfio_iova_range.size);
    out.set(fixed);
    ranges.forEach((r, i) => vfio_iova_range.encodeInto(out, fixed.byteLength + i * vfio_iova_range.size, { start: r.start, end: r.end }));
    caps.push({ id: C.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1, body: body(out) });
  }
  return caps;
}

function getInfo(t: Type1Iommu, user: UserAddressSpace, arg: IoctlArg): number {
  const syscall = "VFIO_IOMMU_GET_INFO";
  const def = vfio_iommu_type1_info;
  const { value, argsz, bytes } = copyInVfio(user, def, arg, syscall);
  // cap_offset is only read and written for callers whose struct has it
  const capsz = def.size;
  const minsz = argsz >= capsz ? capsz : def.minsz;
  const caps = capabilities(t);
  const chain = buildCapChain(def.size, caps);
  let flags = VFIO_IOMMU_INFO.bits.PGSIZES;
  let outArgsz = argsz;
  let capOffset = 0;
  if (caps.length > 0) {
    flags |= VFIO_IOMMU_INFO.bits.CAPS;
    if (argsz < chain.totalSize) {
      outArgsz = chain.totalSize;
    } else {
      if (bytes.byteLength < chain.totalSize) throw new Errno("EFAULT", `argsz is ${argsz} but the buffer has ${bytes.byteLength} bytes`, syscall);
      bytes.set(chain.bytes, def.size);
      capOffset = chain.firstOffset;
    }
  }
  copyOut(def, bytes, { ...value, argsz: outArgsz, flags, iova_pgsizes: t.pgsizeBitmap, cap_offset: capOffset, pad: 0 }, minsz);
  return 0;
}

function mapDma(t: Type1Iommu, user: UserAddressSpace, arg: IoctlArg): number {
  const syscall = "VFIO_IOMMU_MAP_DMA";
  const { value } = copyInVfio(user, vfio_iommu_type1_dma_map, arg, syscall);
  const bad = unknownFlagBits("vfio_iommu_type1_dma_map", "flags", VFIO_DMA_MAP_FLAG, value.flags);
  if (bad) throw new Errno("EINVAL", bad, syscall);
  t.mapDma({ flags: value.flags, vaddr: value.vaddr, iova: value.iova, size: value.size }, syscall);
  return 0;
}

function unmapDma(t: Type1Iommu, user: UserAddressSpace, arg: IoctlArg): number {
  const syscall = "VFIO_IOMMU_UNMAP_DMA";
  const def = vfio_iommu_type1_dma_unmap;
  const F = VFIO_DMA_UNMAP_FLAG.bits;
  const { value, argsz, bytes } = copyInVfio(user, def, arg, syscall);
  const bad = unknownFlagBits("vfio_iommu_type1_dma_unmap", "flags", VFIO_DMA_UNMAP_FLAG, value.flags);
  if (bad) throw new Errno("EINVAL", bad, syscall);
  let bitmap: { pgsize: bigint; data: bigint } | null = null;
  if (value.flags & F.GET_DIRTY_BITMAP) {
    if (value.flags & (F.ALL | F.VADDR)) throw new Errno("EINVAL", "GET_DIRTY_BITMAP cannot be combined with ALL or VADDR", syscall);
    if (argsz < def.size + vfio_bitmap.size) throw new Errno("EINVAL", `argsz ${argsz} leaves no room for the vfio_bitmap (needs ${def.size + vfio_bitmap.size})`, syscall);
    if (bytes.byteLength < def.size + vfio_bitmap.size) throw new Errno("EFAULT", "the argument buffer ends before the vfio_bitmap", syscall);
    const b = vfio_bitmap.decode(bytes, def.size);
    checkUserRange(b.data, b.size, "bitmap.data", syscall);
    if (b.pgsize === 0n) throw new Errno("EINVAL", "bitmap.pgsize is 0", syscall);
    verifyBitmapSize(value.size >> BigInt(lowestBit(b.pgsize)), b.size, syscall);
    bitmap = { pgsize: b.pgsize, data: b.data };
  }
  const unmapped = t.unmapDma({ flags: value.flags, iova: value.iova, size: value.size, bitmap }, syscall);
  copyOut(def, bytes, { ...value, size: unmapped }, def.size);
  return 0;
}

function dirtyPages(t: Type1Iommu, user: UserAddressSpace, arg: IoctlArg): number {
  const syscall = "VFIO_IOMMU_DIRTY_PAGES";
  if (!t.v2) throw new Errno("EACCES", "dirty page tracking needs a VFIO_TYPE1v2_IOMMU container", syscall);
  const def = vfio_iommu_type1_dirty_bitmap;
  const F = VFIO_IOMMU_DIRTY_PAGES_FLAG.bits;
  const { value, argsz, bytes } = copyInVfio(user, def, arg, syscall);
  const bad = unknownFlagBits("vfio_iommu_type1_dirty_bitmap", "flags", VFIO_IOMMU_DIRTY_PAGES_FLAG, value.flags);
  if (bad) throw new Errno("EINVAL", bad, syscall);
  const op = value.flags;
  if (op !== F.START && op !== F.STOP && op !== F.GET_BITMAP) throw new Errno("EINVAL", "exactly one of START, STOP and GET_BITMAP must be set", syscall);
  if (op === F.START) {
    t.startDirty(syscall);
    return 0;
  }
  if (op === F.STOP) {
    t.stopDirty();
    return 0;
  }
  const get = vfio_iommu_type1_dirty_bitmap_get;
  if (argsz - def.size < get.size) throw new Errno("EINVAL", `argsz ${argsz} leaves no room for vfio_iommu_type1_dirty_bitmap_get (needs ${def.size + get.size})`, syscall);
  if (bytes.byteLength < def.size + get.size) throw new Errno("EFAULT", "the argument buffer ends before the range", syscall);
  const r = get.decode(bytes, def.size);
  if ((r.iova + r.size) % U64 < r.iova) throw new Errno("EINVAL", "iova + size wraps around the 64-bit space", syscall);
  checkUserRange(r["bitmap.data"], r["bitmap.size"], "bitmap.data", syscall);
  if (r["bitmap.pgsize"] === 0n) throw new Errno("EINVAL", "bitmap.pgsize is 0", syscall);
  verifyBitmapSize(r.size >> BigInt(lowestBit(r["bitmap.pgsize"])), r["bitmap.size"], syscall);
  t.getDirtyBitmap(r.iova, r.size, r["bitmap.pgsize"], r["bitmap.data"], syscall);
  return 0;
}
