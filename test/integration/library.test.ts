/**
 * The typed library's integration tests, written once and run on every backend
 * this machine has: always the emulator, and a real /dev/vfio through the native
 * backend when there is one (with devices bound to vfio-pci). Nothing here may
 * use the lab: only what a real kernel offers.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MMAP, VFIO_EXTENSION, type Syscalls } from "../../hw-emu/uapi/index.js";
import { createEmuBackend, createNativeBackend, nativeBackendStatus } from "../../kernel-lib/backends/index.js";
import { Container, Device, Group, Iommufd, listPciDevices, VfioError } from "../../kernel-lib/vfio/index.js";

interface Backend {
  name: string;
  sys: Syscalls | null;
  skip: string | null;
}

function emu(): Backend {
  return { name: "emu", sys: createEmuBackend({ devices: [{ model: "nic", stateSize: 16384 }, { model: "accel" }] }).sys, skip: null };
}

function native(): Backend {
  const status = nativeBackendStatus();
  if (!status.available) return { name: "native", sys: null, skip: `the native backend is unavailable: ${status.reason}` };
  if (!existsSync("/dev/vfio/vfio")) return { name: "native", sys: null, skip: "this host has no /dev/vfio (no VFIO-bound devices to test)" };
  const sys = createNativeBackend();
  if (!listPciDevices(sys).some((d) => d.driver === "vfio-pci")) return { name: "native", sys: null, skip: "no PCI device is bound to vfio-pci" };
  return { name: "native", sys, skip: null };
}

for (const backend of [emu(), native()]) {
  if (backend.skip) console.log(`[integration] ${backend.name}: skipped: ${backend.skip}`);
  describe.skipIf(backend.skip !== null)(`typed library on the ${backend.name} backend`, () => {
    const sys = backend.sys!;
    const vfioDevices = () => listPciDevices(sys).filter((d) => d.driver === "vfio-pci" && d.iommuGroup !== null);

    it("discovers VFIO devices through sysfs", () => {
      const found = vfioDevices();
      expect(found.length).toBeGreaterThan(0);
      for (const d of found) expect(d.address).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
    });

    it("opens a device through a group in a type1v2 container and reads its config space", () => {
      const d = vfioDevices()[0]!;
      const c = Container.open(sys);
      expect(c.apiVersion()).toBe(0);
      expect(c.checkExtension(VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU)).toBeGreaterThan(0);
      const g = Group.open(sys, d.iommuGroup!);
      expect(g.status().viable).toBe(true);
      g.setContainer(c);
      c.setIommu();
      const dev = g.device(d.address);
      const info = dev.info();
      expect(info.pci).toBe(true);
      expect(info.numRegions).toBeGreaterThanOrEqual(9);
      const cfg = dev.config;
      expect(cfg.info.size).toBeGreaterThanOrEqual(256n);
      expect(new DataView(cfg.read(0, 2).buffer).getUint16(0, true)).toBe(d.vendor);
      const iommu = c.info();
      expect(iommu.iovaPageSizes & 4096n).toBe(4096n);
      dev.close();
      g.close();
      c.close();
    });

    it("maps anonymous memory for DMA through iommufd and a device cdev", () => {
      const d = vfioDevices().find((x) => x.cdev)!;
      if (!d) return;
      const ictx = Iommufd.open(sys);
      const { device, devId } = Device.openCdev(sys, d.cdev!).bind(ictx);
      expect(devId).toBeGreaterThan(0);
      const ioas = ictx.allocIoas();
      const ram = sys.mmap(-1, 1 << 21, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_PRIVATE | MMAP.MAP_ANONYMOUS, 0n);
      const iova = ioas.map({ userVa: ram.addr, length: 1n << 21n, iova: 1n << 30n });
      expect(iova).toBe(1n << 30n);
      expect(device.attach(ioas.id)).toBeGreaterThan(0);
      expect(ioas.unmap(iova, 1n << 21n)).toBe(1n << 21n);
      device.detach();
      device.close();
      ictx.close();
    });

    it("reports errors by ioctl, errno and meaning", () => {
      const d = vfioDevices()[0]!;
      const g = Group.open(sys, d.iommuGroup!);
      try {
        g.device(d.address);
        expect.unreachable("a group without a container cannot hand out devices");
      } catch (e) {
        expect(e).toBeInstanceOf(VfioError);
        expect((e as VfioError).call).toBe("VFIO_GROUP_GET_DEVICE_FD");
        expect((e as VfioError).code).toBe("EINVAL");
      } finally {
        g.close();
      }
    });

    it("drives migration where the device has it", () => {
      const c = Container.open(sys);
      for (const d of vfioDevices()) {
        const g = Group.open(sys, d.iommuGroup!);
        g.setContainer(c);
        c.setIommu();
        const dev = g.device(d.address);
        const mig = dev.migration;
        if (mig) {
          expect(mig.state()).toBe("RUNNING");
          const r = mig.set("STOP_COPY");
          expect(r.path[0]).toBe("RUNNING");
          expect(r.data).not.toBeNull();
          r.data!.close();
          mig.set("RUNNING");
        }
        dev.close();
        g.unsetContainer();
        g.close();
      }
      c.close();
    });
  });
}
