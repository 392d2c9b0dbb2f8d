/**
 * What the native backend may touch on a real host. It opens only the VFIO and
 * iommufd character devices, which exist only for devices an administrator has
 * already bound to vfio-pci (or created as mediated devices); it never binds or
 * unbinds drivers and never writes to sysfs. A path outside these rules is
 * refused with EACCES before any system call is made.
 */
import { posix } from "node:path";
import { Errno } from "../../../hw-emu/uapi/index.js";

const DEVICE_PATHS: readonly RegExp[] = [/^\/dev\/vfio\/vfio$/, /^\/dev\/vfio\/[0-9]+$/, /^\/dev\/vfio\/devices\/vfio[0-9]+$/, /^\/dev\/iommu$/];

export const OPENABLE = "/dev/vfio/vfio, /dev/vfio/<group>, /dev/vfio/devices/vfio<N> and /dev/iommu";

/** Throws EACCES unless `path` is one of the VFIO or iommufd device nodes. */
export function checkDevicePath(path: string): void {
  if (!DEVICE_PATHS.some((re) => re.test(path))) {
    throw new Errno("EACCES", `${path}: the native backend opens only ${OPENABLE}`, "open");
  }
}

/** The normalised absolute path if it lies under one of `roots`, else EACCES. */
export function checkUnder(path: string, roots: readonly string[], syscall: string): string {
  const p = posix.isAbsolute(path) ? posix.normalize(path) : "";
  if (!roots.some((root) => p === root || p.startsWith(root + "/"))) {
    throw new Errno("EACCES", `${path}: the native backend reads only under ${roots.join(" and ")}`, syscall);
  }
  return p;
}
