import { describe, expect, it } from "vitest";
import {
  Errno,
  IOCTL,
  VFIO_DEVICE_FLAGS,
  VFIO_IRQ_INFO,
  VFIO_REGION_INFO_FLAG,
  parseCapChain,
  vfio_device_info,
} from "../../hw-emu/uapi/index.js";
import { VfioPciDriver, type DeviceRegion } from "../../hw-emu/kernel/vfio-pci/index.js";
import { buildFunction, DeviceIo, newKernel, openDevice, setup } from "./fixtures/pci-fixture.js";

const { READ, WRITE, MMAP, CAPS } = VFIO_REGION_INFO_FLAG.bits;

function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof Errno) return e.code;
    throw e;
  }
  return "ok";
}

describe("vfio-pci GET_INFO", () => {
  it("reports PCI | RESET, 9 regions, 5 irqs; cap_offset only for argsz >= 20", () => {
    const { kernel, fd } = setup();
    const buf = vfio_device_info.encode({ argsz: 24, cap_offset: 0xdead });
    expect(kernel.ioctl(fd, IOCTL.VFIO_DEVICE_GET_INFO, buf)).toBe(0);
    const info = vfio_device_info.decode(buf);
    expect(info.flags).toBe(VFIO_DEVICE_FLAGS.bits.PCI | VFIO_DEVICE_FLAGS.bits.RESET);
    expect(info.num_regions).toBe(9);
    expect(info.num_irqs).toBe(5);
    expect(info.cap_offset).toBe(0);
    // a 16-byte caller: only 16 bytes are written back
    const small = new Uint8Array(24).fill(0xaa);
    small.set(vfio_device_info.encode({ argsz: 16 }).subarray(0, 16));
    kernel.ioctl(fd, IOCTL.VFIO_DEVICE_GET_INFO, small);
    expect([...small.subarray(16)]).toEqual(new Array(8).fill(0xaa));
  });

  it("argsz below 16 is EINVAL; no FLR means no RESET flag", () => {
    const { kernel, fd } = setup({ pcie: { flr: false } });
    expect(errno(() => kernel.ioctl(fd, IOCTL.VFIO_DEVICE_GET_INFO, vfio_device_info.encode({ argsz: 15 })))).toBe("EINVAL");
    const buf = vfio_device_info.encode({ argsz: 24 });
    kernel.ioctl(fd, IOCTL.VFIO_DEVICE_GET_INFO, buf);
    expect(vfio_device_info.decode(buf).flags).toBe(VFIO_DEVICE_FLAGS.bits.PCI);
  });
});

describe("vfio-pci GET_REGION_INFO", () => {
  it("describes BARs, ROM and config at index << 40", () => {
    const { io } = setup();
    const bar0 = io.regionInfo(0, 64).info;
    expect(bar0.size).toBe(0x4000n);
    expect(bar0.offset).toBe(0n);
    expect(bar0.flags).toBe(READ | WRITE | MMAP | CAPS);
    const bar1 = io.regionInfo(1).info; // upper half of the 64-bit BAR0
    expect([bar1.size, bar1.flags, bar1.offset]).toEqual([0n, 0, 1n << 40n]);
    const bar2 = io.regionInfo(2).info;
    expect([bar2.size, bar2.flags]).toEqual([0x1000n, READ | WRITE | MMAP]);
    const bar4 = io.regionInfo(4).info; // I/O: never mmap
    expect([bar4.size, bar4.flags]).toEqual([32n, READ | WRITE]);
    expect(io.regionInfo(5).info.size).toBe(0n);
    const rom = io.regionInfo(6).info;
    expect([rom.size, rom.flags, rom.offset]).toEqual([0n, 0, 6n << 40n]);
    const cfg = io.regionInfo(7).info;
    expect([cfg.size, cfg.flags, cfg.offset]).toEqual([4096n, READ | WRITE, 7n << 40n]);
  });

  it("gives the MSI-X BAR the MSIX_MAPPABLE capability, growing argsz when it does not fit", () => {
    const { io } = setup();
    const short = io.regionInfo(0, 32);
    expect(short.r).toBe(0);
    expect(short.info.flags & CAPS).toBe(CAPS);
    expect(short.info.argsz).toBe(40);
    expect(short.info.cap_offset).toBe(0);
    const full = io.regionInfo(0, short.info.argsz);
    expect(full.info.cap_offset).toBe(32);
    const caps = parseCapChain(full.buf, full.info.cap_offset);
    expect(caps.map((c) => [c.id, c.version])).toEqual([[3, 1]]);
  });

  it("config is 256 bytes for a conventional function; a variant may present less", () => {
    expect(setup({ pcie: false }).io.regionInfo(7).info.size).toBe(256n);
    expect(setup({ pcie: false }, { configSize: 255 }).io.regionInfo(7).info.size).toBe(255n);
  });

  it("VGA is EINVAL unless the function is VGA class", () => {
    expect(errno(() => setup().io.regionInfo(8))).toBe("EINVAL");
    const vga = setup({ classCode: 0x030000 }).io.regionInfo(8).info;
    expect([vga.size, vga.flags]).toEqual([0xc0000n, READ | WRITE]);
  });

  it("EINVAL for an index out of range and for argsz < 32", () => {
    const { io } = setup();
    expect(errno(() => io.regionInfo(9))).toBe("EINVAL");
    expect(errno(() => io.regionInfo(0xffffffff))).toBe("EINVAL");
    expect(errno(() => io.regionInfo(0, 31, 32))).toBe("EINVAL");
  });
});

class RegionVariant extends VfioPciDriver {
  readonly store = new Uint8Array(64);
  readonly migIndex: number;
  constructor(...args: ConstructorParameters<typeof VfioPciDriver>) {
    super(...args);
    const store = this.store;
    const region: DeviceRegion = {
      type: 3,
      subtype: 1,
      size: 64n,
      flags: READ | WRITE,
      read(buf, pos) {
        const n = Math.min(buf.length, 64 - Number(pos));
        buf.set(store.subarray(Number(pos), Number(pos) + n));
        return n;
      },
      write(buf, pos) {
        store.set(buf, Number(pos));
        return buf.length;
      },
    };
    this.migIndex = this.addRegion(region);
  }
}

describe("vfio-pci device-specific regions", () => {
  it("a variant's region gets index 9, a TYPE capability, and its own read/write", () => {
    const { kernel } = newKernel();
    const dev = buildFunction(kernel);
    const driver = new RegionVariant({ kernel, fn: dev.fn, msix: dev.msix, msi: dev.msi, intx: dev.intx, driverName: "variant" });
    const { fd } = openDevice(kernel, driver);
    const io = new DeviceIo(kernel, fd);
    expect(driver.migIndex).toBe(9);
    const buf = vfio_device_info.encode({ argsz: 24 });
    kernel.ioctl(fd, IOCTL.VFIO_DEVICE_GET_INFO, buf);
    expect(vfio_device_info.decode(buf).num_regions).toBe(10);
    const r = io.regionInfo(9, 48);
    expect(r.info.size).toBe(64n);
    expect(r.info.offset).toBe(9n << 40n);
    expect(r.info.flags).toBe(READ | WRITE | CAPS);
    const [type] = parseCapChain(r.buf, r.info.cap_offset);
    expect(type!.id).toBe(2);
    expect(new DataView(type!.body.buffer, type!.body.byteOffset).getUint32(0, true)).toBe(3);
    expect(io.write(9, 8, [1, 2, 3])).toBe(3);
    expect([...io.read(9, 8, 3)]).toEqual([1, 2, 3]);
    expect(errno(() => io.regionInfo(10))).toBe("EINVAL");
  });
});

describe("vfio-pci GET_IRQ_INFO", () => {
  it("counts and flags per index", () => {
    const { io } = setup();
    const { EVENTFD, MASKABLE, AUTOMASKED, NORESIZE } = VFIO_IRQ_INFO.bits;
    expect(io.irqInfo(0)).toMatchObject({ count: 1, flags: EVENTFD | MASKABLE | AUTOMASKED });
    expect(io.irqInfo(1)).toMatchObject({ count: 4, flags: EVENTFD | NORESIZE });
    expect(io.irqInfo(2)).toMatchObject({ count: 8, flags: EVENTFD | NORESIZE });
    expect(io.irqInfo(3)).toMatchObject({ count: 1, flags: EVENTFD | NORESIZE });
    expect(io.irqInfo(4)).toMatchObject({ count: 1, flags: EVENTFD | NORESIZE });
  });

  it("no pin, no MSI, no MSI-X: count 0 succeeds; dynamic MSI-X drops NORESIZE", () => {
    const { io } = setup({ interruptPin: 0, msiVectors: null, msixVectors: null });
    expect(io.irqInfo(0).count).toBe(0);
    expect(io.irqInfo(1).count).toBe(0);
    expect(io.irqInfo(2).count).toBe(0);
    const dyn = setup({}, { dynamicMsix: true });
    expect(dyn.io.irqInfo(2).flags & VFIO_IRQ_INFO.bits.NORESIZE).toBe(0);
  });

  it("EINVAL for argsz < 16, index >= 5, and ERR on conventional PCI", () => {
    const { io } = setup();
    expect(errno(() => io.irqInfo(0, 15))).toBe("EINVAL");
    expect(errno(() => io.irqInfo(5))).toBe("EINVAL");
    expect(errno(() => setup({ pcie: false }).io.irqInfo(3))).toBe("EINVAL");
  });
});

