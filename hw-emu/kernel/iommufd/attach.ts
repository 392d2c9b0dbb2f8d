/**
 * Attaching a bound device to a page table (VFIO_DEVICE_ATTACH_IOMMUFD_PT and
 * DETACH): to a HWPT by id, or to an IOAS, which reuses a compatible
 * auto-created HWPT of that IOAS or creates one (without dirty tracking). A
 * second attach replaces the page table for the device and the devices of its
 * group bound to the same context, which always share one. Detaching leaves
 * the device with no domain: its DMA is blocked.
 */
import { Errno, isErrno } from "../../uapi/index.js";
import { dmaOwnershipOf } from "../dma-owner.js";
import type { IommufdContext } from "./ictx.js";
import { allocPagingHwpt, destroyHwpt } from "./hwpt.js";
import type { DeviceObject, HwptObject, IoasObject } from "./objects.js";

const SYSCALL = "VFIO_DEVICE_ATTACH_IOMMUFD_PT";

type AttachFn = (ctx: IommufdContext, dev: DeviceObject, hwpt: HwptObject) => void;

/** Attached devices of the same VFIO group as `dev` in this context (not `dev` itself). */
function attachedPeers(ctx: IommufdContext, dev: DeviceObject): DeviceObject[] {
  const group = dmaOwnershipOf(dev.device);
  if (!group) return [];
  return ctx.all().filter((o): o is DeviceObject => o.type === "device" && o !== dev && o.hwpt !== null && dmaOwnershipOf(o.device) === group);
}

/** The IOMMU driver's attach check: a dirty-tracking domain needs a device whose IOMMU can track. */
function checkCompatible(dev: DeviceObject, hwpt: HwptObject): void {
  if (hwpt.dirtyCapable && !dev.dirtyCapable) {
    throw new Errno("EINVAL", `HWPT ${hwpt.id} tracks dirty pages but the IOMMU of ${dev.device.name} cannot`, SYSCALL);
  }
}

function link(ctx: IommufdContext, dev: DeviceObject, hwpt: HwptObject): void {
  hwpt.devices.add(dev);
  hwpt.refs++;
  dev.hwpt = hwpt;
  if (dev.rid !== null) ctx.iommu.attach(dev.rid, hwpt.domain);
}

function unlink(dev: DeviceObject, hwpt: HwptObject): void {
  hwpt.devices.delete(dev);
  hwpt.refs--;
  dev.hwpt = null;
}

/** HWPTs created by attach go away with their last device. */
function putHwpt(ctx: IommufdContext, hwpt: HwptObject): void {
  if (hwpt.auto && hwpt.devices.size === 0) destroyHwpt(ctx, hwpt);
}

const attachFirst: AttachFn = (ctx, dev, hwpt) => {
  const peers = attachedPeers(ctx, dev);
  if (peers.length > 0 && peers[0]!.hwpt !== hwpt) {
    throw new Errno("EINVAL", `the group of ${dev.device.name} is attached to HWPT ${peers[0]!.hwpt!.id}; its devices share one page table`, SYSCALL);
  }
  checkCompatible(dev, hwpt);
  link(ctx, dev, hwpt);
  dev.refs++;
};

const replace: AttachFn = (ctx, dev, hwpt) => {
  const old = dev.hwpt!;
  if (old === hwpt) return;
  const movers = [dev, ...attachedPeers(ctx, dev)];
  for (const m of movers) checkCompatible(m, hwpt);
  for (const m of movers) {
    unlink(m, old);
    link(ctx, m, hwpt);
  }
  putHwpt(ctx, old);
};

function autoAttach(ctx: IommufdContext, dev: DeviceObject, ioas: IoasObject, fn: AttachFn): number {
  for (const h of [...ioas.hwpts]) {
    if (!h.auto) continue;
    try {
      fn(ctx, dev, h);
      return h.id;
    } catch (e) {
      // EINVAL: this domain does not suit the device; try the next one
      if (isErrno(e, "EINVAL")) continue;
      throw e;
    }
  }
  const h = allocPagingHwpt(ctx, ioas, dev, { dirty: false, nestParent: false, auto: true }, SYSCALL);
  try {
    fn(ctx, dev, h);
  } catch (e) {
    destroyHwpt(ctx, h);
    throw e;
  }
  return h.id;
}

/** Attach (or re-attach) a bound device to an IOAS or HWPT; returns the HWPT id in use. */
export function attachDevice(ctx: IommufdContext, dev: DeviceObject, ptId: number): number {
  const pt = ctx.get(ptId, undefined, SYSCALL);
  const fn = dev.hwpt ? replace : attachFirst;
  if (pt.type === "hwpt") {
    fn(ctx, dev, pt);
    return pt.id;
  }
  if (pt.type === "ioas") return autoAttach(ctx, dev, pt, fn);
  throw new Errno("EINVAL", `object ${ptId} is a device, not an IOAS or HWPT`, SYSCALL);
}

/** Detach: the device's DMA is blocked from now on. Not attached: nothing to do. */
export function detachDevice(ctx: IommufdContext, dev: DeviceObject): void {
  const hwpt = dev.hwpt;
  if (!hwpt) return;
  unlink(dev, hwpt);
  dev.refs--;
  if (dev.rid !== null && ctx.iommu.domainOf(dev.rid) === hwpt.domain) ctx.iommu.detach(dev.rid);
  putHwpt(ctx, hwpt);
}
