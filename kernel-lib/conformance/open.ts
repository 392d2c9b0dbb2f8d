/**
 * Opening the device under test the two ways userspace can: a cdev bound to
 * iommufd (attached to a fresh IOAS), or a device in a group behind a type1v2
 * container. Everything needed to close it again travels with it.
 */
import type { Syscalls } from "../../hw-emu/uapi/index.js";
import { Container, Group } from "../vfio/container.js";
import { Device } from "../vfio/device.js";
import { Iommufd } from "../vfio/iommufd.js";
import type { DeviceLocator } from "./types.js";

export interface OpenedDevice {
  device: Device;
  /** the container when the device was opened through its group */
  container: Container | null;
  close(): void;
}

export function describeLocator(loc: DeviceLocator): string {
  return "cdev" in loc ? loc.cdev : `group ${loc.group} device ${loc.bdf}`;
}

/** Close in reverse order, keeping the first error but trying every step. */
function closer(steps: (() => void)[]): () => void {
  return () => {
    let first: unknown = null;
    for (const s of steps.reverse()) {
      try {
        s();
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  };
}

export function openDevice(sys: Syscalls, loc: DeviceLocator): OpenedDevice {
  if ("cdev" in loc) {
    const steps: (() => void)[] = [];
    try {
      const ictx = Iommufd.open(sys);
      steps.push(() => ictx.close());
      const ioas = ictx.allocIoas();
      const unbound = Device.openCdev(sys, loc.cdev);
      steps.push(() => unbound.close());
      const { device } = unbound.bind(ictx);
      device.attach(ioas.id);
      return { device, container: null, close: closer(steps) };
    } catch (e) {
      closer(steps)();
      throw e;
    }
  }
  const opened = openGroupDevices(sys, [loc]);
  return { device: opened.devices[0]!, container: opened.container, close: opened.close };
}

/** Several devices (each named by group and address) in one type1v2 container, as a VMM keeps them. */
export function openGroupDevices(sys: Syscalls, locs: readonly { group: number; bdf: string }[]): { devices: Device[]; container: Container; close(): void } {
  const steps: (() => void)[] = [];
  try {
    const container = Container.open(sys);
    steps.push(() => container.close());
    const devices: Device[] = [];
    const groups = new Map<number, Group>();
    for (const loc of locs) {
      let group = groups.get(loc.group);
      if (!group) {
        const g = Group.open(sys, loc.group);
        steps.push(() => g.close());
        g.setContainer(container);
        steps.push(() => g.unsetContainer());
        // the IOMMU model is chosen once the first group is in the container
        if (groups.size === 0) container.setIommu();
        groups.set(loc.group, g);
        group = g;
      }
      const d = group.device(loc.bdf);
      steps.push(() => d.close());
      devices.push(d);
    }
    return { devices, container, close: closer(steps) };
  } catch (e) {
    closer(steps)();
    throw e;
  }
}
