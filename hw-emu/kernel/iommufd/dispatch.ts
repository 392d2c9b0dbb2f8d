/**
 * iommufd's generic ioctl path: the request must be exactly one of the table's
 * _IO(';', nr) numbers (else ENOTTY); the u32 size at offset 0 must cover the
 * command's mandatory fields (else EINVAL); bytes past the kernel's struct must
 * be zero (else E2BIG). Handlers get the decoded command and write their
 * answer back over at most the caller's size.
 */
import { Errno, IOCTL, decodeRequest } from "../../uapi/index.js";
import type { IoctlArg } from "../file.js";
import { argBytes } from "../user-args.js";
import type { IommufdContext } from "./ictx.js";
import { HWPT_OPS } from "./hwpt-ioctls.js";
import { IOAS_OPS } from "./ioas-ioctls.js";
import type { IommufdOp } from "./ucmd.js";

const OPS = new Map<number, IommufdOp>([...IOAS_OPS, ...HWPT_OPS].map((o) => [IOCTL[o.name], o]));

/** Commands Linux has that this kernel does not implement, by nr. */
const NOT_EMULATED: Readonly<Record<number, string>> = {
  0x8d: "IOMMU_HWPT_INVALIDATE",
  0x8e: "IOMMU_FAULT_QUEUE_ALLOC",
  0x8f: "IOMMU_IOAS_MAP_FILE",
  0x90: "IOMMU_VIOMMU_ALLOC",
  0x91: "IOMMU_VDEVICE_ALLOC",
  0x92: "IOMMU_IOAS_CHANGE_PROCESS",
  0x93: "IOMMU_VEVENTQ_ALLOC",
  0x94: "IOMMU_HW_QUEUE_ALLOC",
};

export function dispatch(ctx: IommufdContext, request: number, arg: IoctlArg): number {
  const o = OPS.get(request);
  if (!o) {
    const { dir, type, nr, size } = decodeRequest(request);
    const plain = dir === 0 && size === 0 && type === 0x3b;
    let why = `request 0x${request.toString(16)} is not an iommufd ioctl`;
    if (plain && nr < 0x80) why = "the VFIO container compatibility ioctls on /dev/iommu are not emulated";
    else if (plain && NOT_EMULATED[nr]) why = `${NOT_EMULATED[nr]} is not emulated`;
    throw new Errno("ENOTTY", why, "ioctl");
  }
  return o.run(ctx, argBytes(ctx.kernel.user, arg, 4, o.name));
}
