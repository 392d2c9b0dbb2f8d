import { describe, expect, it } from "vitest";
import { createMachine } from "../../hw-emu/machine/machine.js";
import { Container, Group, Iommufd, listMdevDevices, listPciDevices, Device, VfioError } from "../../kernel-lib/vfio/index.js";
import { VFIO_EXTENSION } from "../../hw-emu/uapi/index.js";

describe("an emulated machine", () => {
  it("is discovered through sysfs and opened through groups and containers", () => {
    const m = createMachine({ devices: [{ model: "nic" }, { model: "accel" }] });
    const found = listPciDevices(m.sys);
    expect(found.map((d) => [d.address, d.iommuGroup, d.driver])).toEqual([
      ["0000:01:00.0", 10, "vfio-pci"],
      ["0000:01:01.0", 11, "vfio-pci"],
    ]);
    expect(found[0]!.cdev).toBe("/dev/vfio/devices/vfio0");
    const c = Container.open(m.sys);
    expect(c.apiVersion()).toBe(0);
    expect(c.checkExtension(VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU)).toBe(1);
    const g = Group.open(m.sys, 10);
    expect(g.status()).toEqual({ viable: true, containerSet: false });
    g.setContainer(c);
    c.setIommu();
    const dev = g.device("0000:01:00.0");
    expect(dev.info()).toMatchObject({ pci: true, numRegions: 9, numIrqs: 5 });
    expect(dev.migration?.features).toEqual({ stopCopy: true, p2p: true, preCopy: true });
    expect(dev.dmaLogging).not.toBeNull();
    expect(dev.migration!.state()).toBe("RUNNING");
  });

  it("lists a mediated device on the mdev bus, with its group, its driver and its cdev, and no PCI device for it", () => {
    const m = createMachine({ devices: [{ model: "accel" }, { model: "serial" }] });
    expect(listMdevDevices(m.sys)).toEqual([{ uuid: m.devices[1]!.address, iommuGroup: 11, driver: "mtty", cdev: "/dev/vfio/devices/vfio1" }]);
    expect(listPciDevices(m.sys).map((d) => d.address)).toEqual(["0000:01:00.0"]);
    const g = Group.open(m.sys, 11);
    const c = Container.open(m.sys);
    g.setContainer(c);
    c.setIommu();
    expect(g.device(listMdevDevices(m.sys)[0]!.uuid).info().numRegions).toBe(9);
    // without an mdev driver there is no mdev bus
    expect(listMdevDevices(createMachine({ devices: [{ model: "nic" }] }).sys)).toEqual([]);
  });

  it("migrates a NIC's state from one machine to another through the uAPI", async () => {
    const src = createMachine({ devices: [{ model: "nic", stateSize: 64 << 10 }] });
    const dst = createMachine({ clock: src.clock, devices: [{ model: "nic", stateSize: 64 << 10 }] });
    const open = (m: typeof src): Device => {
      const c = Container.open(m.sys);
      const g = Group.open(m.sys, 10);
      g.setContainer(c);
      c.setIommu();
      return g.device("0000:01:00.0");
    };
    const a = open(src);
    const b = open(dst);
    const r = a.migration!.set("STOP_COPY");
    expect(r.path).toEqual(["RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"]);
    const chunks: Uint8Array[] = [];
    for await (const c of (r.data as import("../../kernel-lib/vfio/index.js").SaveStream).chunks()) chunks.push(c);
    const total = chunks.reduce((n, c) => n + c.byteLength, 0);
    expect(BigInt(total)).toBeLessThanOrEqual(a.migration!.dataSize() + 4096n);
    const rr = b.migration!.set("RESUMING");
    expect(rr.path).toEqual(["RUNNING", "RUNNING_P2P", "STOP", "RESUMING"]);
    const w = rr.data as import("../../kernel-lib/vfio/index.js").ResumeStream;
    for (const c of chunks) w.write(c);
    b.migration!.set("RUNNING");
    expect(b.migration!.state()).toBe("RUNNING");
    expect(Buffer.from(dst.devices[0]!.model.save()).equals(Buffer.from(src.devices[0]!.model.save()))).toBe(true);
    // the old fd is dead once the session ends
    a.migration!.set("STOP");
    expect(() => (r.data as import("../../kernel-lib/vfio/index.js").SaveStream).read(16)).toThrowError(/ENODEV/);
    expect(() => a.migration!.set("PRE_COPY")).not.toThrow();
  });

  it("names the ioctl, the errno and its meaning when a call fails", () => {
    const m = createMachine({ devices: [{ model: "nic" }] });
    const c = Container.open(m.sys);
    const g = Group.open(m.sys, 10);
    g.setContainer(c);
    c.setIommu();
    const dev = g.device("0000:01:00.0");
    dev.migration!.set("STOP_COPY");
    try {
      dev.migration!.set("PRE_COPY");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(VfioError);
      expect((e as Error).message).toMatch(/^VFIO_DEVICE_FEATURE\(MIG_DEVICE_STATE\): EINVAL: .*the device is now STOP_COPY/);
    }
    void Iommufd;
  });
});
