import { describe, expect, it } from "vitest";
import {
  Errno,
  IOCTL,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_FLAG,
  VFIO_DEVICE_STATE,
  VFIO_IRQ_SET,
  VFIO_MIGRATION,
  vfio_device_feature,
  vfio_device_feature_mig_state,
} from "../../hw-emu/uapi/index.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import type { MigrationOps } from "../../hw-emu/kernel/vfio/driver.js";
import type { MigState } from "../../hw-emu/uapi/migration-fsm.js";
import { VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, VFIO_DEVICE_PCI_HOT_RESET } from "../../hw-emu/kernel/vfio-pci/index.js";
import { setup } from "./fixtures/pci-fixture.js";

const { DATA_EVENTFD, ACTION_TRIGGER } = VFIO_IRQ_SET.bits;

function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof Errno) return e.code;
    throw e;
  }
  return "ok";
}

describe("vfio-pci VFIO_DEVICE_RESET", () => {
  it("resets the function; config state and interrupt setup survive, as pci_reset_function restores them", () => {
    const t = setup();
    t.io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
    const [e] = t.io.eventfds(1);
    t.io.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, 2, 0, 1, [e!]);
    const before = t.fn.resetCount;
    expect(t.kernel.ioctl(t.fd, IOCTL.VFIO_DEVICE_RESET)).toBe(0);
    expect(t.fn.resetCount).toBe(before + 1);
    expect(t.fn.barAddress(0)).toBe(t.bars.get(0));
    expect(t.fn.busMasterEnabled()).toBe(true);
    expect(t.msix!.enabled).toBe(true);
    t.msix!.fire(0);
    expect(t.io.count(e!)).toBe(1n);
  });

  it("is EINVAL without a usable reset", () => {
    const t = setup({ pcie: { flr: false } });
    expect(errno(() => t.kernel.ioctl(t.fd, IOCTL.VFIO_DEVICE_RESET))).toBe("EINVAL");
  });

  it("trap 19: after the driver's reset the core reports the migration state RUNNING", () => {
    const calls: string[] = [];
    const migration: MigrationOps = {
      flags: VFIO_MIGRATION.bits.STOP_COPY,
      step(from: MigState, to: MigState) {
        calls.push(`${from}->${to}`);
        return null;
      },
      dataSize: () => 0n,
      reset: () => void calls.push("reset"),
    };
    const t = setup({}, { migration, driverName: "test-variant" });
    const F = VFIO_DEVICE_FEATURE_FLAG.bits;
    const buf = new Uint8Array(16);
    buf.set(vfio_device_feature.encode({ argsz: 16, flags: F.SET | VFIO_DEVICE_FEATURE.values.MIG_DEVICE_STATE }).subarray(0, 8));
    buf.set(vfio_device_feature_mig_state.encode({ device_state: VFIO_DEVICE_STATE.values.STOP }), 8);
    t.kernel.ioctl(t.fd, IOCTL.VFIO_DEVICE_FEATURE, buf);
    expect(t.file.device.migration!.state).toBe("STOP");
    calls.length = 0;
    t.kernel.ioctl(t.fd, IOCTL.VFIO_DEVICE_RESET);
    expect(calls).toEqual(["reset"]);
    expect(t.file.device.migration!.state).toBe("RUNNING");
  });

  it("hot reset: the emulated functions have no slot or bus reset (ENODEV); short headers are EINVAL", () => {
    const t = setup();
    const hdr = (argsz: number, flags = 0) => {
      const b = new Uint8Array(16);
      const v = new DataView(b.buffer);
      v.setUint32(0, argsz, true);
      v.setUint32(4, flags, true);
      return b;
    };
    expect(errno(() => t.kernel.ioctl(t.fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, hdr(16)))).toBe("ENODEV");
    expect(errno(() => t.kernel.ioctl(t.fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, hdr(8)))).toBe("EINVAL");
    expect(errno(() => t.kernel.ioctl(t.fd, VFIO_DEVICE_PCI_HOT_RESET, hdr(16, 1)))).toBe("EINVAL");
    expect(errno(() => t.kernel.ioctl(t.fd, VFIO_DEVICE_PCI_HOT_RESET, hdr(16)))).toBe("ENODEV");
  });
});

describe("vfio-pci open and close", () => {
  it("open resets an FLR-capable function; last close quiets it and puts its open-time state back", () => {
    const t = setup();
    expect(t.fn.resetCount).toBe(1);
    t.io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MASTER);
    const [e] = t.io.eventfds(1);
    t.io.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, 2, 0, 1, [e!]);
    t.kernel.close(t.fd);
    expect(t.msix!.enabled).toBe(false);
    expect(t.fn.busMasterEnabled()).toBe(false);
    expect(t.fn.memoryDecodeEnabled()).toBe(true);
    expect(t.driver.interruptType).toBe("none");
    expect(t.driver.hostVectors).toEqual([]);
    t.msix!.fire(0);
    expect(t.io.count(e!)).toBe(0n);
  });

  it("unknown ioctls are ENOTTY", () => {
    const t = setup();
    expect(errno(() => t.kernel.ioctl(t.fd, IOCTL.VFIO_IOMMU_MAP_DMA + 0x40))).toBe("ENOTTY");
  });
});
