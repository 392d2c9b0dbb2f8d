/**
 * The IOAS commands of iommufd and the ones that manage objects in general:
 * DESTROY, IOAS_ALLOC/MAP/UNMAP/COPY/IOVA_RANGES/ALLOW_IOVAS, OPTION and
 * VFIO_IOAS. Unknown flags and non-zero reserved fields are EOPNOTSUPP;
 * arithmetic that would not fit an unsigned long is EOVERFLOW.
 */
import {
  Errno,
  IOMMU_IOAS_MAP_FLAG,
  IOMMU_OPTION_ID,
  IOMMU_OPTION_OP,
  IOMMU_VFIO_IOAS_OP,
  iommu_destroy,
  iommu_iova_range,
  iommu_ioas_alloc,
  iommu_ioas_allow_iovas,
  iommu_ioas_copy,
  iommu_ioas_iova_ranges,
  iommu_ioas_map,
  iommu_ioas_unmap,
  iommu_option,
  iommu_vfio_ioas,
} from "../../uapi/index.js";
import { PERM_READ, PERM_WRITE } from "../../hw/iommu.js";
import { destroyHwpt } from "./hwpt.js";
import { IoasTable, ULONG_MAX, type IovaSpan } from "./io-pagetable.js";
import type { IoasObject } from "./objects.js";
import { pinUserRange } from "./pin.js";
import { op, type IommufdOp } from "./ucmd.js";

const M = IOMMU_IOAS_MAP_FLAG.bits;
const MAP_FLAGS = M.FIXED_IOVA | M.WRITEABLE | M.READABLE;

function mapPerm(flags: number): number {
  return (flags & M.WRITEABLE ? PERM_WRITE : 0) | (flags & M.READABLE ? PERM_READ : 0);
}

/** The flag rules IOAS_MAP and IOAS_COPY share. */
function checkMapFlags(flags: number, syscall: string): void {
  if (flags & ~MAP_FLAGS) throw new Errno("EOPNOTSUPP", `unknown flags 0x${(flags & ~MAP_FLAGS).toString(16)}`, syscall);
}

function needAccess(flags: number, syscall: string): void {
  if (!(flags & (M.WRITEABLE | M.READABLE))) throw new Errno("EINVAL", "a mapping needs READABLE and/or WRITEABLE", syscall);
}

const destroy = op("IOMMU_DESTROY", iommu_destroy, ({ ctx, cmd, syscall }) => {
  const obj = ctx.get(cmd.id, undefined, syscall);
  if (obj.refs > 0) {
    const by = obj.type === "ioas" ? "HWPTs" : obj.type === "hwpt" ? "attached devices" : "the VFIO device that bound it";
    throw new Errno("EBUSY", `object ${cmd.id} is still held by ${by}`, syscall);
  }
  if (obj.type === "hwpt") destroyHwpt(ctx, obj);
  else {
    if (obj.type === "ioas") obj.table.unmapAll();
    ctx.forget(obj);
  }
  return 0;
});

const ioasAlloc = op("IOMMU_IOAS_ALLOC", iommu_ioas_alloc, ({ ctx, cmd, syscall, respond }) => {
  if (cmd.flags) throw new Errno("EOPNOTSUPP", `flags must be 0, got 0x${cmd.flags.toString(16)}`, syscall);
  const ioas = ctx.alloc<IoasObject>((id) => ({ type: "ioas", id, refs: 0, table: new IoasTable(), hwpts: [] }));
  respond({ out_ioas_id: ioas.id });
  return 0;
});

const ioasMap = op("IOMMU_IOAS_MAP", iommu_ioas_map, ({ ctx, cmd, user, syscall, respond }) => {
  checkMapFlags(cmd.flags, syscall);
  if (cmd.__reserved) throw new Errno("EOPNOTSUPP", "__reserved must be 0", syscall);
  if (cmd.iova >= ULONG_MAX || cmd.length >= ULONG_MAX) throw new Errno("EOVERFLOW", "iova or length does not fit an unsigned long", syscall);
  needAccess(cmd.flags, syscall);
  const ioas = ctx.get(cmd.ioas_id, "ioas", syscall);
  if (cmd.length === 0n) throw new Errno("EINVAL", "length is 0", syscall);
  if (cmd.user_va + cmd.length > ULONG_MAX + 1n) throw new Errno("EOVERFLOW", "user_va + length overflows", syscall);
  const piece = { uptr: cmd.user_va, length: cmd.length, pin: () => pinUserRange(user, cmd.user_va, cmd.length, syscall) };
  const iova = ioas.table.map([piece], mapPerm(cmd.flags), cmd.flags & M.FIXED_IOVA ? cmd.iova : null, syscall);
  respond({ iova });
  return 0;
});

const ioasUnmap = op("IOMMU_IOAS_UNMAP", iommu_ioas_unmap, ({ ctx, cmd, syscall, respond }) => {
  const ioas = ctx.get(cmd.ioas_id, "ioas", syscall);
  let length: bigint;
  if (cmd.iova === 0n && cmd.length === ULONG_MAX) length = ioas.table.unmapAll();
  else {
    if (cmd.iova >= ULONG_MAX || cmd.length >= ULONG_MAX) throw new Errno("EOVERFLOW", "iova or length does not fit an unsigned long", syscall);
    length = ioas.table.unmap(cmd.iova, cmd.length, syscall);
  }
  respond({ length });
  return 0;
});

const ioasCopy = op("IOMMU_IOAS_COPY", iommu_ioas_copy, ({ ctx, cmd, syscall, respond }) => {
  checkMapFlags(cmd.flags, syscall);
  if (cmd.length >= ULONG_MAX || cmd.src_iova >= ULONG_MAX || cmd.dst_iova >= ULONG_MAX) throw new Errno("EOVERFLOW", "an iova or the length does not fit an unsigned long", syscall);
  needAccess(cmd.flags, syscall);
  const src = ctx.get(cmd.src_ioas_id, "ioas", syscall);
  const pieces = src.table.pieces(cmd.src_iova, cmd.length, syscall);
  const dst = ctx.get(cmd.dst_ioas_id, "ioas", syscall);
  const iova = dst.table.map(pieces, mapPerm(cmd.flags), cmd.flags & M.FIXED_IOVA ? cmd.dst_iova : null, syscall);
  respond({ dst_iova: iova });
  return 0;
});

const iovaRanges = op("IOMMU_IOAS_IOVA_RANGES", iommu_ioas_iova_ranges, ({ ctx, cmd, user, syscall, respond }) => {
  if (cmd.__reserved) throw new Errno("EOPNOTSUPP", "__reserved must be 0", syscall);
  const ioas = ctx.get(cmd.ioas_id, "ioas", syscall);
  const ranges = ioas.table.iovaRanges();
  const max = cmd.num_iovas;
  ranges.slice(0, max).forEach((r, i) => {
    user.copyToUser(cmd.allowed_iovas + BigInt(i * iommu_iova_range.size), iommu_iova_range.encode({ start: r.start, last: r.last }), syscall);
  });
  respond({ num_iovas: ranges.length, out_iova_alignment: ioas.table.alignment });
  if (ranges.length > max) throw new Errno("EMSGSIZE", `${ranges.length} ranges do not fit the ${max}-entry array (num_iovas now says how many)`, syscall);
  return 0;
});

const allowIovas = op("IOMMU_IOAS_ALLOW_IOVAS", iommu_ioas_allow_iovas, ({ ctx, cmd, user, syscall }) => {
  if (cmd.__reserved) throw new Errno("EOPNOTSUPP", "__reserved must be 0", syscall);
  const ioas = ctx.get(cmd.ioas_id, "ioas", syscall);
  const ranges: IovaSpan[] = [];
  for (let i = 0; i < cmd.num_iovas; i++) {
    const r = iommu_iova_range.decode(user.copyFromUser(cmd.allowed_iovas + BigInt(i * iommu_iova_range.size), iommu_iova_range.size, syscall));
    ranges.push({ start: r.start, last: r.last });
  }
  ioas.table.setAllowed(ranges, syscall);
  return 0;
});

const option = op("IOMMU_OPTION", iommu_option, ({ ctx, cmd, syscall, respond }) => {
  const O = IOMMU_OPTION_OP.values;
  if (cmd.__reserved) throw new Errno("EOPNOTSUPP", "__reserved must be 0", syscall);
  switch (cmd.option_id) {
    case IOMMU_OPTION_ID.values.RLIMIT_MODE: {
      if (cmd.object_id) throw new Errno("EOPNOTSUPP", "RLIMIT_MODE is a context option: object_id must be 0", syscall);
      if (cmd.op === O.GET) {
        respond({ val64: ctx.accountMm ? 1n : 0n });
        return 0;
      }
      if (cmd.op !== O.SET) throw new Errno("EOPNOTSUPP", `unknown op ${cmd.op}`, syscall);
      if (ctx.objectCount > 0) throw new Errno("EBUSY", "the accounting mode can only change while the context holds no objects", syscall);
      if (cmd.val64 !== 0n && cmd.val64 !== 1n) throw new Errno("EINVAL", `RLIMIT_MODE takes 0 (user) or 1 (mm), got ${cmd.val64}`, syscall);
      ctx.accountMm = cmd.val64 === 1n;
      respond({});
      return 0;
    }
    case IOMMU_OPTION_ID.values.HUGE_PAGES: {
      const ioas = ctx.get(cmd.object_id, "ioas", syscall);
      if (cmd.op === O.GET) {
        respond({ val64: ioas.table.hugePages ? 1n : 0n });
        return 0;
      }
      if (cmd.op !== O.SET) throw new Errno("EOPNOTSUPP", `unknown op ${cmd.op}`, syscall);
      if (cmd.val64 !== 0n && cmd.val64 !== 1n) throw new Errno("EINVAL", `HUGE_PAGES takes 0 or 1, got ${cmd.val64}`, syscall);
      ioas.table.setHugePages(cmd.val64 === 1n, syscall);
      respond({});
      return 0;
    }
    default:
      throw new Errno("EOPNOTSUPP", `unknown option ${cmd.option_id}`, syscall);
  }
});

const vfioIoas = op("IOMMU_VFIO_IOAS", iommu_vfio_ioas, ({ ctx, cmd, syscall, respond }) => {
  const O = IOMMU_VFIO_IOAS_OP.values;
  if (cmd.__reserved) throw new Errno("EOPNOTSUPP", "__reserved must be 0", syscall);
  switch (cmd.op) {
    case O.GET:
      if (!ctx.compatIoas) throw new Errno("ENODEV", "no IOAS is set for VFIO compatibility", syscall);
      respond({ ioas_id: ctx.compatIoas.id });
      return 0;
    case O.SET:
      ctx.compatIoas = ctx.get(cmd.ioas_id, "ioas", syscall);
      return 0;
    case O.CLEAR:
      ctx.compatIoas = null;
      return 0;
    default:
      throw new Errno("EOPNOTSUPP", `unknown op ${cmd.op}`, syscall);
  }
});

export const IOAS_OPS: readonly IommufdOp[] = [destroy, ioasAlloc, ioasMap, ioasUnmap, ioasCopy, iovaRanges, allowIovas, option, vfioIoas];
