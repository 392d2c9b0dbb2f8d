/** Finding VFIO devices as userspace does on Linux: by walking sysfs. */
import type { Syscalls } from "../../hw-emu/uapi/index.js";
import { sys } from "./errors.js";

export interface PciDeviceEntry {
  /** PCI address, e.g. 0000:01:00.0 */
  address: string;
  vendor: number;
  device: number;
  class: number;
  /** IOMMU group number, or null */
  iommuGroup: number | null;
  /** bound driver's name, or null */
  driver: string | null;
  /** /dev/vfio/devices/vfioN when the device has a VFIO cdev */
  cdev: string | null;
}

const base = (p: string) => p.split("/").filter(Boolean).at(-1) ?? "";

function tryRead<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}

export function listPciDevices(s: Syscalls): PciDeviceEntry[] {
  const root = "/sys/bus/pci/devices";
  return sys(`readdir ${root}`, () => s.readdir(root)).map((address) => {
    const dir = `${root}/${address}`;
    const num = (f: string) => Number.parseInt(tryRead(() => s.readFile(`${dir}/${f}`))?.trim() ?? "0", 16);
    const group = tryRead(() => s.readlink(`${dir}/iommu_group`));
    const driver = tryRead(() => s.readlink(`${dir}/driver`));
    const vfioDev = tryRead(() => s.readdir(`${dir}/vfio-dev`));
    return {
      address,
      vendor: num("vendor"),
      device: num("device"),
      class: num("class"),
      iommuGroup: group ? Number(base(group)) : null,
      driver: driver ? base(driver) : null,
      cdev: vfioDev && vfioDev.length ? `/dev/vfio/devices/${vfioDev[0]}` : null,
    };
  });
}

/** A mediated device (e.g. the kernel's mtty sample) as sysfs lists it under /sys/bus/mdev/devices. */
export interface MdevDeviceEntry {
  /** the mdev's UUID, which is also its name for VFIO_GROUP_GET_DEVICE_FD */
  uuid: string;
  /** IOMMU group number (an emulated-IOMMU group for mdevs), or null */
  iommuGroup: number | null;
  /** bound driver's name, or null */
  driver: string | null;
  /** /dev/vfio/devices/vfioN when the device has a VFIO cdev */
  cdev: string | null;
}

/** The mediated devices of the host; none when the mdev bus is absent (no mdev driver loaded). */
export function listMdevDevices(s: Syscalls): MdevDeviceEntry[] {
  const root = "/sys/bus/mdev/devices";
  const uuids = tryRead(() => s.readdir(root));
  if (uuids === null) return [];
  return uuids.map((uuid) => {
    const dir = `${root}/${uuid}`;
    const group = tryRead(() => s.readlink(`${dir}/iommu_group`));
    const driver = tryRead(() => s.readlink(`${dir}/driver`));
    const vfioDev = tryRead(() => s.readdir(`${dir}/vfio-dev`));
    return {
      uuid,
      iommuGroup: group ? Number(base(group)) : null,
      driver: driver ? base(driver) : null,
      cdev: vfioDev && vfioDev.length ? `/dev/vfio/devices/${vfioDev[0]}` : null,
    };
  });
}
