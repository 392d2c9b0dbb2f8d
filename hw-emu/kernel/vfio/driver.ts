/**
 * What a VFIO driver provides to the VFIO core, mirroring the kernel's
 * vfio_device_ops, vfio_migration_ops and vfio_log_ops: the core owns fds,
 * feature dispatch, the migration path walk and argument checks; a driver
 * owns its regions, interrupts, reset and the single migration arcs.
 */
import type { Mapping } from "../../uapi/index.js";
import type { IoctlArg } from "../file.js";
import type { MigState } from "../../uapi/migration-fsm.js";
import type { KFile } from "../file.js";

/** A data transfer session file a migration arc opened (save or resume). */
export interface MigrationSession {
  readonly file: KFile;
  /** end the session: later read/write on the fd answer ENODEV */
  disable(): void;
}

export interface MigrationOps {
  /** VFIO_MIGRATION_* bits; STOP_COPY is mandatory */
  readonly flags: number;
  /**
   * Perform one direct arc `from -> to`. Returns a new session when the arc starts
   * one (into the saving group from outside, or STOP -> RESUMING). On failure
   * throws an Errno; the driver may first move itself to ERROR by returning
   * through `failedInto`.
   */
  step(from: MigState, to: MigState): MigrationSession | null;
  /** VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: the estimated STOP_COPY length */
  dataSize(): bigint;
  /** reset: drop sessions, device state back to its reset state (the core records RUNNING) */
  reset(): void;
}

export interface LoggingRange {
  iova: bigint;
  length: bigint;
}

export interface LoggingOps {
  /** start logging DMA writes in these ranges; returns the page size the device chose */
  start(ranges: readonly LoggingRange[], pageSize: bigint): bigint;
  stop(): void;
  /**
   * Report and clear: OR into `bitmap` bit n (word n>>5, bit n&31) for every page
   * `iova + n*pageSize` in [iova, iova+length) the device wrote since the last report.
   */
  report(iova: bigint, length: bigint, pageSize: bigint, bitmap: Uint32Array): void;
}

/** A migration failure that left the device without a valid state. */
export class ArcFailure extends Error {
  constructor(
    readonly errno: "EINVAL" | "EIO" | "EFAULT" | "ENOMEM" | "ENODEV",
    readonly detail: string,
    /** the state the device is really in after the failure */
    readonly landedIn: MigState,
  ) {
    super(detail);
  }
}

export interface VfioDriver {
  /** the driver's name as sysfs shows it (vfio-pci, mlx5_vfio_pci-like names are the model's own) */
  readonly driverName: string;
  /** called on the first open of the device, and on the last close */
  open(): void;
  close(): void;
  /** device ioctls the core does not handle itself (GET_INFO, regions, IRQs, RESET ...) */
  ioctl(request: number, arg: IoctlArg): number;
  pread(buf: Uint8Array, offset: bigint): number;
  pwrite(buf: Uint8Array, offset: bigint): number;
  mmap(length: number, prot: number, flags: number, offset: bigint): Mapping;
  /** driver-specific VFIO_DEVICE_FEATURE indexes; absent means EINVAL for any index the core does not handle */
  feature?(index: number, flags: number, payload: Uint8Array, argsz: number): number;
  readonly migration?: MigrationOps;
  readonly logging?: LoggingOps;
  /**
   * Whether the driver pins every page it touches (emulated-IOMMU mdevs): a type1
   * container can then report exact dirty pages; otherwise every mapped page is dirty.
   */
  readonly pinnedPageDirtyScope: boolean;
  /** the PCI requester id its DMA uses, for IOMMU attachment; null for devices that do no DMA */
  readonly requesterId: number | null;
  /**
   * SR-IOV VF token check on open: `token` is the UUID from "vf_token=" (group
   * path) or BIND_IOMMUFD's token (cdev path), null when none was given. Throws
   * EACCES / EINVAL as vfio-pci does; absent means tokens do not apply (and a
   * supplied one is EINVAL).
   */
  matchToken?(token: Uint8Array | null): void;
}
