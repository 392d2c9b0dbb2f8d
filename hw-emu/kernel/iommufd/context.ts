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
import { dmaOwnershipOf } from "../dma-owner.js";
import type { IommufdBinding, IommufdContext } from "./ictx.js";
import { attachDevice, detachDevice } from "./attach.js";
import { dispatch } from "./dispatch.js";
import { destroyHwpt } from "./hwpt.js";
import type { AccessObject, BindableDevice, DeviceObject, IoasObject, IommufdObject, ObjectOf, ObjectType } from "./objects.js";

export interface IommufdOptions {
  /**
   * Whether the IOMMU can track dirty pages for a device (what GET_HW_INFO
   * reports as IOMMU_HW_CAP_DIRTY_TRACKING): one answer for the machine, or
   * one per device. Default true.
   */
  dirtyTracking?: boolean | ((device: BindableDevice) => boolean);
}

const TYPE_NAME: Record<ObjectType, string> = { ioas: "IOAS", hwpt: "HWPT", device: "device", access: "access" };

export class IommufdFile extends KFile implements IommufdContext, IommufdBinding {
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

  deviceDirtyCapable(device: BindableDevice): boolean {
    const opt = this.options.dirtyTracking ?? true;
    return typeof opt === "function" ? opt(device) : opt;
  }

  override ioctl(request: number, arg: IoctlArg): number {
    return dispatch(this, request, arg);
  }

  // ---- IommufdBinding: the VFIO device cdev's side ----

  bindDevice(device: BindableDevice): number {
    const syscall = "VFIO_DEVICE_BIND_IOMMUFD";
    // the device's DMA becomes this context's; a container owning the group excludes it
    dmaOwnershipOf(device)?.claim(this, false, syscall);
    if (emulatedIommu(device)) return this.alloc<AccessObject>((id) => ({ type: "access", id, refs: 1, device, ioas: null })).id;
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
    const dev = this.bound(devid, "VFIO_DEVICE_BIND_IOMMUFD");
    if (dev.type === "access") detachAccess(dev);
    else detachDevice(this, dev);
    this.forget(dev);
    dmaOwnershipOf(dev.device)?.release(this);
    if (this.fdClosed) this.teardownIfIdle();
  }

  attachDevice(devid: number, ptId: number): number {
    const syscall = "VFIO_DEVICE_ATTACH_IOMMUFD_PT";
    const dev = this.bound(devid, syscall);
    return dev.type === "access" ? attachAccess(dev, this.get(ptId, "ioas", syscall)) : attachDevice(this, dev, ptId);
  }

  detachDevice(devid: number): void {
    const dev = this.bound(devid, "VFIO_DEVICE_DETACH_IOMMUFD_PT");
    if (dev.type === "access") detachAccess(dev);
    else detachDevice(this, dev);
  }

  /** The object a bind created: a device, or an access for an emulated-IOMMU device. */
  private bound(id: number, syscall: string): DeviceObject | AccessObject {
    const obj = this.get(id, undefined, syscall);
    if (obj.type !== "device" && obj.type !== "access") throw new Errno("ENOENT", `object ${id} is a ${TYPE_NAME[obj.type]}, not a bound device`, syscall);
    return obj;
  }

  // ---- lifetime ----

  override release(): void {
    this.fdClosed = true;
    this.teardownIfIdle();
  }

  /** Destroy every object once no device is bound: HWPTs first, then the IOASes they held. */
  private teardownIfIdle(): void {
    if (this.all().some((o) => o.type === "device" || o.type === "access")) return;
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

/** Devices behind an emulated IOMMU: no requester id of their own, and they pin what they touch. */
function emulatedIommu(device: BindableDevice): boolean {
  return device.driver.requesterId === null && device.driver.pinnedPageDirtyScope;
}

/** An access attaches to an IOAS only, and the id it reports is the IOAS's own; attaching again replaces it. */
function attachAccess(access: AccessObject, ioas: IoasObject): number {
  if (access.ioas !== ioas) {
    if (access.ioas) access.ioas.refs--;
    ioas.refs++;
    access.ioas = ioas;
  }
  return ioas.id;
}

function detachAccess(access: AccessObject): void {
  if (!access.ioas) return;
  access.ioas.refs--;
  access.ioas = null;
}
