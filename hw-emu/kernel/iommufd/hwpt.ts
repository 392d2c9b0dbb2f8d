/**
 * Paging HWPTs: an IOMMU domain that mirrors one IOAS. Allocation adds the
 * domain to the IOAS (which maps every area into it and reserves what lies
 * beyond its aperture); destruction undoes that. Whether the domain can track
 * dirty pages is fixed at allocation, by IOMMU_HWPT_ALLOC_DIRTY_TRACKING.
 */
import { Errno } from "../../uapi/index.js";
import type { IommufdContext } from "./ictx.js";
import { viaIommu } from "./iommu-errors.js";
import type { DeviceObject, HwptObject, IoasObject } from "./objects.js";

export interface PagingOptions {
  dirty: boolean;
  nestParent: boolean;
  /** created by an attach straight to the IOAS */
  auto: boolean;
}

/** Allocate a paging HWPT on `ioas`; `dev` decides the IOMMU and must support what is asked. */
export function allocPagingHwpt(ctx: IommufdContext, ioas: IoasObject, dev: DeviceObject, opts: PagingOptions, syscall: string): HwptObject {
  if (opts.dirty && !dev.dirtyCapable) throw new Errno("EOPNOTSUPP", `the IOMMU of ${dev.device.name} cannot track dirty pages`, syscall);
  const hwpt = ctx.alloc<HwptObject>((id) => ({
    type: "hwpt",
    id,
    refs: 0,
    ioas,
    domain: viaIommu(syscall, () => ctx.iommu.createDomain({ dirtyTracking: opts.dirty, name: `iommufd-hwpt${id}` })),
    dirtyCapable: opts.dirty,
    auto: opts.auto,
    nestParent: opts.nestParent,
    devices: new Set(),
  }));
  try {
    ioas.table.addDomain(hwpt.domain, hwpt, syscall);
  } catch (e) {
    ctx.forget(hwpt);
    ctx.iommu.destroyDomain(hwpt.domain);
    throw e;
  }
  ioas.hwpts.push(hwpt);
  ioas.refs++;
  return hwpt;
}

/** Destroy a HWPT no device is attached to. */
export function destroyHwpt(ctx: IommufdContext, hwpt: HwptObject): void {
  const ioas = hwpt.ioas;
  ioas.table.removeDomain(hwpt.domain, hwpt);
  ioas.hwpts.splice(ioas.hwpts.indexOf(hwpt), 1);
  ioas.refs--;
  ctx.iommu.destroyDomain(hwpt.domain);
  ctx.forget(hwpt);
}
