/**
 * The two faces of an iommufd context (one per open of /dev/iommu; context.ts implements
 * both): what the ioctl handlers, attach and HWPT code need of it (the object table and
 * the IOMMU behind it), and the binding interface a VFIO device cdev calls, as Linux's
 * vfio calls iommufd_device_bind() and friends. The handlers take this interface, not the
 * file, so that they and context.ts do not import each other.
 */
import type { Iommu } from "../../hw/iommu.js";
import type { Kernel } from "../kernel.js";
import type { BindableDevice, IoasObject, IommufdObject, ObjectOf, ObjectType } from "./objects.js";

export interface IommufdContext {
  readonly kernel: Kernel;
  readonly iommu: Iommu;
  /** the IOAS behind the VFIO compatibility container (a weak pointer: holds no reference) */
  compatIoas: IoasObject | null;
  /** IOMMU_OPTION_RLIMIT_MODE: pinned pages charged to the user (false) or to the process's mm (true) */
  accountMm: boolean;
  readonly objectCount: number;
  /** Allocate the lowest free id and store the object `make` builds with it. */
  alloc<T extends IommufdObject>(make: (id: number) => T): T;
  /** The object with this id, of this type (any type when omitted), else ENOENT. */
  get<T extends ObjectType>(id: number, type: T, syscall: string): ObjectOf<T>;
  get(id: number, type: undefined, syscall: string): IommufdObject;
  find(id: number): IommufdObject | undefined;
  /** Remove an object from the table (its owner has already undone what it holds). */
  forget(obj: IommufdObject): void;
  all(): IommufdObject[];
}

/** What a VFIO device cdev asks of the iommufd it is bound to. */
export interface IommufdBinding {
  /** bind: returns the new device object id */
  bindDevice(device: BindableDevice): number;
  unbindDevice(devid: number): void;
  /** attach to an IOAS or HWPT id; returns the HWPT id actually attached */
  attachDevice(devid: number, ptId: number): number;
  detachDevice(devid: number): void;
}
