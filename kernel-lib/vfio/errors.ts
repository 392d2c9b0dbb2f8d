/**
 * Errors of the typed library: each names the ioctl (or system call), the errno,
 * and what that errno means for this particular call, so a notebook reader sees
 * "VFIO_DEVICE_FEATURE(MIG_DEVICE_STATE): EINVAL: the device cannot go from
 * STOP_COPY back into PRE_COPY" rather than a bare -22.
 */
import { Errno, strerror, type ErrnoName } from "../../hw-emu/uapi/index.js";

/** What an errno means for a given call, where Linux gives it a specific meaning. */
const MEANINGS: Record<string, Partial<Record<ErrnoName, string>>> = {
  VFIO_SET_IOMMU: { EINVAL: "no group is attached to the container yet, or the IOMMU type is unsupported", EBUSY: "the container already has an IOMMU" },
  VFIO_GROUP_SET_CONTAINER: { EINVAL: "the group already belongs to a container", EBADF: "the fd is not a VFIO container" },
  VFIO_GROUP_GET_DEVICE_FD: {
    EINVAL: "the group has no container with an IOMMU yet, or a VF token was given where none applies",
    ENODEV: "no device of that name is in the group",
    EACCES: "the VF token is missing or does not match the PF's",
  },
  VFIO_DEVICE_BIND_IOMMUFD: { EINVAL: "the fd is already bound, or came from a group", EBADF: "the iommufd fd is not an iommufd" },
  "VFIO_DEVICE_FEATURE(MIGRATION)": { ENOTTY: "the device has no migration driver" },
  "VFIO_DEVICE_FEATURE(MIG_DEVICE_STATE)": {
    ENOTTY: "the device has no migration driver",
    EINVAL: "the request was refused (an unsupported or ERROR target, STOP_COPY back to pre-copy, a device in ERROR, or an arc the driver failed, such as RESUMING -> STOP on an incomplete stream)",
    EIO: "the device failed the arc; GET the state to see where it stopped",
  },
  "VFIO_DEVICE_FEATURE(DMA_LOGGING_START)": {
    ENOTTY: "the device cannot log its own DMA",
    EINVAL: "a range is unaligned or overlaps another, or logging is already running",
    E2BIG: "more ranges than the kernel accepts at once",
  },
  "VFIO_DEVICE_FEATURE(DMA_LOGGING_REPORT)": { EINVAL: "logging is not running, or page_size is not a power of two >= 4096" },
  VFIO_MIG_GET_PRECOPY_INFO: { EINVAL: "pre-copy information exists only in PRE_COPY and PRE_COPY_P2P", ENOTTY: "not a save data fd" },
  VFIO_IOMMU_DIRTY_PAGES: { EINVAL: "tracking is not started, or the range/page size/bitmap size is wrong", EACCES: "the container is not type1v2" },
  IOMMU_HWPT_ALLOC: { EOPNOTSUPP: "the IOMMU behind the device cannot track dirty pages (or a flag is unknown)" },
  IOMMU_HWPT_SET_DIRTY_TRACKING: { EOPNOTSUPP: "the HWPT was not allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING" },
  VFIO_DEVICE_RESET: { EINVAL: "the device has no reset method" },
  read: { ENOMSG: "no pre-copy data right now (a temporary end of stream)", ENODEV: "the data session has ended" },
  write: { ENODEV: "the data session has ended", ENOMEM: "more data than the device's state can hold", EFAULT: "the driver refused the data (mtty: a stream header that does not match this device)" },
};

export class VfioError extends Error {
  override name = "VfioError";
  /** the errno number */
  readonly errno: number;
  readonly code: string;
  constructor(
    /** the ioctl or system call, e.g. "VFIO_DEVICE_FEATURE(MIG_DEVICE_STATE)" */
    readonly call: string,
    code: string,
    errno: number,
    /** what the errno means for this call */
    readonly meaning: string,
    /** the kernel's own detail, where the emulator gives one */
    readonly detail: string,
  ) {
    super(`${call}: ${code}: ${meaning}${detail && detail !== meaning ? ` (${detail})` : ""}`);
    this.code = code;
    this.errno = errno;
  }
}

/** Rethrow an Errno from a system call as a VfioError that names the call. */
export function wrapErrno(call: string, e: unknown): never {
  if (e instanceof Errno) {
    const meaning = MEANINGS[call]?.[e.code] ?? strerror(e.errno);
    throw new VfioError(call, e.code, e.errno, meaning, e.detail);
  }
  throw e;
}

/** Run a system call, converting its Errno into a VfioError naming `call`. */
export function sys<T>(call: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    return wrapErrno(call, e);
  }
}
