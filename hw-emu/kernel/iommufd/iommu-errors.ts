/** Turning the emulated IOMMU's refusals into the errnos the kernel would return. */
import { Errno, type ErrnoName } from "../../uapi/index.js";
import { IommuError, type IommuErrorCode } from "../../hw/iommu.js";

const ERRNO_OF: Record<IommuErrorCode, ErrnoName> = {
  exists: "EEXIST",
  unaligned: "EINVAL",
  range: "EINVAL",
  unsupported: "EOPNOTSUPP",
  busy: "EBUSY",
  invalid: "EINVAL",
};

/** Run an IOMMU operation; an IommuError becomes an Errno for `syscall`, anything else passes through. */
export function viaIommu<T>(syscall: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof IommuError) throw new Errno(ERRNO_OF[e.code], `IOMMU: ${e.message}`, syscall);
    throw e;
  }
}
