/**
 * The HWPT and device-information commands: GET_HW_INFO, HWPT_ALLOC,
 * HWPT_SET_DIRTY_TRACKING and HWPT_GET_DIRTY_BITMAP.
 *
 * The emulated IOMMU has no driver-specific information block (it is not a
 * VT-d or SMMUv3): GET_HW_INFO reports type NONE with no data, zeroes the
 * caller's whole buffer, and tells the dirty-tracking capability. Nested
 * (stage-1) HWPTs are not emulated.
 */
import {
  Errno,
  IOMMU_HW_CAP,
  IOMMU_HW_INFO_TYPE,
  IOMMU_HWPT_ALLOC_FLAG,
  IOMMU_HWPT_DATA,
  IOMMU_HWPT_DIRTY_TRACKING,
  IOMMU_HWPT_GET_DIRTY_BITMAP,
  iommu_hw_info,
  iommu_hwpt_alloc,
  iommu_hwpt_get_dirty_bitmap,
  iommu_hwpt_set_dirty_tracking,
} from "../../uapi/index.js";
import { lowestBit } from "../../sim/bitmap.js";
import { reportDirty } from "./dirty-bitmap.js";
import { allocPagingHwpt } from "./hwpt.js";
import { ULONG_MAX } from "./io-pagetable.js";
import { op, type IommufdOp } from "./ucmd.js";

const A = IOMMU_HWPT_ALLOC_FLAG.bits;
const U64 = 1n << 64n;

const hwInfo = op("IOMMU_GET_HW_INFO", iommu_hw_info, ({ ctx, cmd, user, syscall, respond }) => {
  if (cmd.flags || cmd.__reserved) throw new Errno("EOPNOTSUPP", "flags and __reserved must be 0", syscall);
  const dev = ctx.get(cmd.dev_id, "device", syscall);
  // no driver data: every byte of the caller's buffer is excess and is zeroed
  if (cmd.data_len > 0) {
    if (!user.accessible(cmd.data_uptr, cmd.data_len)) throw new Errno("EFAULT", `data_uptr 0x${cmd.data_uptr.toString(16)}+${cmd.data_len} is not writable user memory`, syscall);
    user.copyToUser(cmd.data_uptr, new Uint8Array(cmd.data_len), syscall);
  }
  respond({
    data_len: 0,
    out_data_type: IOMMU_HW_INFO_TYPE.values.NONE,
    out_capabilities: dev.dirtyCapable ? BigInt(IOMMU_HW_CAP.bits.DIRTY_TRACKING) : 0n,
  });
  return 0;
});

const hwptAlloc = op("IOMMU_HWPT_ALLOC", iommu_hwpt_alloc, ({ ctx, cmd, syscall, respond }) => {
  if (cmd.__reserved) throw new Errno("EOPNOTSUPP", "__reserved must be 0", syscall);
  if (cmd.data_type === IOMMU_HWPT_DATA.values.NONE && cmd.data_len) throw new Errno("EINVAL", "data_len must be 0 when data_type is NONE", syscall);
  const dev = ctx.get(cmd.dev_id, "device", syscall);
  const pt = ctx.find(cmd.pt_id);
  if (!pt) throw new Errno("EINVAL", `pt_id ${cmd.pt_id} names no object`, syscall);
  if (pt.type === "ioas") {
    const valid = A.NEST_PARENT | A.DIRTY_TRACKING;
    if (cmd.flags & ~valid) throw new Errno("EOPNOTSUPP", `flags 0x${(cmd.flags & ~valid).toString(16)} are not supported for a paging HWPT`, syscall);
    if (cmd.data_type !== IOMMU_HWPT_DATA.values.NONE || cmd.data_len) throw new Errno("EOPNOTSUPP", "a paging HWPT takes no driver data", syscall);
    const hwpt = allocPagingHwpt(ctx, pt, dev, { dirty: (cmd.flags & A.DIRTY_TRACKING) !== 0, nestParent: (cmd.flags & A.NEST_PARENT) !== 0, auto: false }, syscall);
    respond({ out_hwpt_id: hwpt.id });
    return 0;
  }
  if (pt.type === "hwpt") throw new Errno("EOPNOTSUPP", "nested HWPTs (a stage-1 table on a parent HWPT) are not emulated", syscall);
  throw new Errno("EINVAL", `pt_id ${cmd.pt_id} is a device, not an IOAS or HWPT`, syscall);
});

const setDirtyTracking = op("IOMMU_HWPT_SET_DIRTY_TRACKING", iommu_hwpt_set_dirty_tracking, ({ ctx, cmd, syscall }) => {
  const ENABLE = IOMMU_HWPT_DIRTY_TRACKING.bits.ENABLE;
  if (cmd.flags & ~ENABLE) throw new Errno("EOPNOTSUPP", `unknown flags 0x${(cmd.flags & ~ENABLE).toString(16)}`, syscall);
  const hwpt = ctx.get(cmd.hwpt_id, "hwpt", syscall);
  if (!hwpt.dirtyCapable) throw new Errno("EOPNOTSUPP", `HWPT ${hwpt.id} was not allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING`, syscall);
  if (cmd.flags & ENABLE) {
    // enabling always starts from clean IOPTEs, also when tracking was already on
    if (hwpt.domain.dirtyTracking) hwpt.domain.setDirtyTracking(false);
    hwpt.domain.setDirtyTracking(true);
  } else {
    hwpt.domain.setDirtyTracking(false);
  }
  return 0;
});

const getDirtyBitmap = op("IOMMU_HWPT_GET_DIRTY_BITMAP", iommu_hwpt_get_dirty_bitmap, ({ ctx, cmd, user, syscall }) => {
  const NO_CLEAR = IOMMU_HWPT_GET_DIRTY_BITMAP.bits.NO_CLEAR;
  if (cmd.flags & ~NO_CLEAR || cmd.__reserved) throw new Errno("EOPNOTSUPP", "flags other than NO_CLEAR, or __reserved != 0", syscall);
  const hwpt = ctx.get(cmd.hwpt_id, "hwpt", syscall);
  const { iova, length, page_size: ps } = cmd;
  const last = iova + ((length - 1n + U64) % U64);
  if (last > ULONG_MAX) throw new Errno("EOVERFLOW", "iova + length - 1 overflows", syscall);
  const align = hwpt.ioas.table.alignment;
  const end = (last + 1n) % U64;
  if (iova & (align - 1n) || end & (align - 1n)) throw new Errno("EINVAL", `iova and iova + length must be aligned to the IOAS alignment ${align}`, syscall);
  if (ps === 0n) throw new Errno("EINVAL", "page_size is 0", syscall);
  if (iova & (ps - 1n) || end & (ps - 1n)) throw new Errno("EINVAL", `iova and iova + length must be multiples of page_size ${ps}`, syscall);
  if (!hwpt.dirtyCapable) throw new Errno("EOPNOTSUPP", `HWPT ${hwpt.id} has no dirty tracking (allocate it with IOMMU_HWPT_ALLOC_DIRTY_TRACKING)`, syscall);
  if (length === 0n) return 0;
  try {
    reportDirty(user, hwpt.ioas.table, hwpt.domain, { iova, last, pageShift: lowestBit(ps), data: cmd.data, clear: (cmd.flags & NO_CLEAR) === 0 }, syscall);
  } catch (e) {
    // the kernel drops the walk's result: a failure while copying bits out still returns 0
    if (!(e instanceof Errno)) throw e;
  }
  return 0;
});

export const HWPT_OPS: readonly IommufdOp[] = [hwInfo, hwptAlloc, setDirtyTracking, getDirtyBitmap];
