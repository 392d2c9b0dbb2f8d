/**
 * An iommufd context, one per open of /dev/iommu: the object table (ids from
 * 1, the lowest free id reused, as the kernel's xarray allocates), the VFIO
 * compatibility IOAS pointer, and the binding interface a VFIO device cdev
 * uses. Bound devices keep the context alive: closing the fd while devices
 * are bound defers the teardown until the last one unbinds.
 */
import { Errno } from "../../uapi/index.js";
import type { Iommu } from "../../hw/iommu.js";
import { KFile, type IoctlArg } from "../file.js";
import type { Kernel } from "../kernel.js";
import type { IommufdBinding, VfioDevice } from "../vfio/device.js";
import { vfioGroupOf } from "../vfio/group.js";
import { attachDevice, detachDevice } from "./attach.js";
import { dispatch } from "./dispatch.js";
import { destroyHwpt } from "./hwpt.js";
import type { DeviceObject, IoasObject, IommufdObject, ObjectType } from "./objects.js";

export interface IommufdOptions {
  /**
   * Whether the IOMMU can track dirty pages for a device (what GET_HW_INFO
   * reports as IOMMU_HW_CAP_DIRTY_TRACKING): one answer for the machine, or
   * one per device. Default true.
   */
  dirtyTracking?: boolean | ((device: VfioDevice) => boolean);
}

type ObjectOf<T extends ObjectType> = Extract<IommufdObject, { type: T }>;

const TYPE_NAME: Record<ObjectType, string> = { ioas: "IOAS", hwpt: "HWPT", device: "device" };

export class IommufdFile extends KFile implements IommufdBinding {
  readonly kind = "iommufd" as const;
  readonly label = "/dev/iommu";
  private readonly objects = new Map<number, IommufdObject>();
  /** the IOAS behind the VFIO compatibility container (a weak pointer: holds no reference) */
  compatIoas: IoasObject | null = null;
  /** IOMMU_OPTION_RLIMIT_MODE: pinned pages charged to the user (0) or to the process's mm (1) */
  accountMm = false;
  private fdClosed = false;

  constructor(
    readonly kernel: Kernel,
    readonly iommu: Iommu,
    private readonly options: IommufdOptions,
  ) {
    super();
  }

  get objectCount(): number {
    return this.objects.size;
  }

  /** Allocate the lowest free id and store the object `make` builds with it. */
  alloc<T extends IommufdObject>(make: (id: number) => T): T {
    let id = 1;
    while (this.objects.has(id)) id++;
    const obj = make(id);
    this.objects.set(id, obj);
    return obj;
  }

  /** The object with this id, of this type (any type when omitted), else ENOENT. */
  get<T extends ObjectType>(id: number, type: T, syscall: string): ObjectOf<T>;
  get(id: number, type: undefined, syscall: string): IommufdObject;
  get(id: number, type: ObjectType | undefined, syscall: string): IommufdObject {
    const obj = this.objects.get(id);
    if (!obj) throw new Errno("ENOENT", `no object with id ${id}`, syscall);
    if (type && obj.type !== type) throw new Errno("ENOENT", `object ${id} is a ${TYPE_NAME[obj.type]}, not a ${TYPE_NAME[type]}`, syscall);
    return obj;
  }

  find(id: number): IommufdObject | undefined {
    return this.objects.get(id);
  }

  /** Remove an object from the table (its owner has already undone what it holds). */
  forget(obj: IommufdObject): void {
    this.objects.delete(obj.id);
    if (this.compatIoas === obj) this.compatIoas = null;
  }

  all(): IommufdObject[] {
    return [...this.objects.values()];
  }

  deviceDirtyCapable(device: VfioDevice): boolean {
    const opt = this.options.dirtyTracking ?? true;
    return typeof opt === "function" ? opt(device) : opt;
  }

  override ioctl(request: number, arg: IoctlArg): number {
    return dispatch(this, request, arg);
  }

  // ---- IommufdBinding: the VFIO device cdev's side ----

  bindDevice(device: VfioDevice): number {
    const syscall = "VFIO_DEVICE_BIND_IOMMUFD";
    // the device's DMA becomes this context's; a container owning the group excludes it
    vfioGroupOf(device)?.claimDmaOwner(this, false, syscall);
    return this.alloc<DeviceObject>((id) => ({
      type: "device",
      id,
      refs: 1,
      device,
      rid: device.driver.requesterId,
      dirtyCapable: this.deviceDirtyCapable(device),
      hwpt: null,
    })).id;
  }

  unbindDevice(devid: number): void {
    const dev = this.get(devid, "device", "VFIO_DEVICE_BIND_IOMMUFD");
    detachDevice(this, dev);
    this.forget(dev);
    vfioGroupOf(dev.device)?.releaseDmaOwner(this);
    if (this.fdClosed) this.teardownIfIdle();
  }

  attachDevice(devid: number, ptId: number): number {
    return attachDevice(this, this.get(devid, "device", "VFIO_DEVICE_ATTACH_IOMMUFD_PT"), ptId);
  }

  detachDevice(devid: number): void {
    detachDevice(this, this.get(devid, "device", "VFIO_DEVICE_DETACH_IOMMUFD_PT"));
  }

  // ---- lifetime ----

  override release(): void {
    this.fdClosed = true;
    this.teardownIfIdle();
  }

  /** Destroy every object once no device is bound: HWPTs first, then the IOASes they held. */
  private teardownIfIdle(): void {
    if (this.all().some((o) => o.type === "device")) return;
    for (const o of this.all()) if (o.type === "hwpt") destroyHwpt(this, o);
    for (const o of this.all()) {
      if (o.type === "ioas") {
        o.table.unmapAll();
        this.forget(o);
      }
    }
  }
}

/** Register /dev/iommu: every open gives a new iommufd context on `iommu`. */
export function registerIommufdNode(kernel: Kernel, iommu: Iommu, options: IommufdOptions = {}): void {
  kernel.addDevice("/dev/iommu", () => new IommufdFile(kernel, iommu, options));
}
