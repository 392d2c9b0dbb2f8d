/**
 * The objects an iommufd context holds, by id. `refs` counts the holders other
 * than the id table: an IOAS is held by its HWPTs, a HWPT by the devices
 * attached to it, a device by the VFIO driver that bound it (and once more
 * while attached). IOMMU_DESTROY removes only objects nobody holds.
 */
import type { IoDomain } from "../../hw/iommu.js";
import type { IoasTable } from "./io-pagetable.js";

/** What iommufd needs of a device bound to it (a VFIO device; see vfio/device.ts). */
export interface BindableDevice {
  readonly name: string;
  readonly driver: {
    /** the routing id its DMA uses, or null for a device behind an emulated IOMMU */
    readonly requesterId: number | null;
    /** whether it pins every page it touches (so pinned pages are its dirty scope) */
    readonly pinnedPageDirtyScope: boolean;
  };
}

export interface IoasObject {
  readonly type: "ioas";
  readonly id: number;
  refs: number;
  readonly table: IoasTable;
  /** HWPTs mirroring this IOAS, in creation order */
  readonly hwpts: HwptObject[];
}

export interface HwptObject {
  readonly type: "hwpt";
  readonly id: number;
  refs: number;
  readonly ioas: IoasObject;
  readonly domain: IoDomain;
  /** allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING (the domain has dirty ops) */
  readonly dirtyCapable: boolean;
  /** created by attaching a device straight to an IOAS; destroyed with its last device */
  readonly auto: boolean;
  readonly nestParent: boolean;
  readonly devices: Set<DeviceObject>;
}

export interface DeviceObject {
  readonly type: "device";
  readonly id: number;
  refs: number;
  readonly device: BindableDevice;
  /** the routing id its DMA uses, or null for a device that does no DMA */
  readonly rid: number | null;
  /** its IOMMU can track dirty pages (IOMMU_HW_CAP_DIRTY_TRACKING) */
  readonly dirtyCapable: boolean;
  hwpt: HwptObject | null;
}

/**
 * A device behind an emulated IOMMU (an mdev that pins what it touches) bound to
 * iommufd: Linux gives it an access object rather than a device object. It
 * attaches straight to an IOAS (holding it), has no HWPT, and its id is no
 * device id to GET_HW_INFO or HWPT_ALLOC.
 */
export interface AccessObject {
  readonly type: "access";
  readonly id: number;
  refs: number;
  readonly device: BindableDevice;
  ioas: IoasObject | null;
}

export type IommufdObject = IoasObject | HwptObject | DeviceObject | AccessObject;
export type ObjectType = IommufdObject["type"];
export type ObjectOf<T extends ObjectType> = Extract<IommufdObject, { type: T }>;
