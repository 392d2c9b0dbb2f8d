import { describe, expect, it } from "vitest";
import { Errno, MMAP, VFIO_IRQ_SET } from "../../hw-emu/uapi/index.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { VFIO_DEVICE_IOEVENTFD, findDeviceMapping } from "../../hw-emu/kernel/vfio-pci/index.js";
import { setup } from "./fixtures/pci-fixture.js";

const { DATA_EVENTFD, ACTION_TRIGGER } = VFIO_IRQ_SET.bits;
const RW = MMAP.PROT_READ | MMAP.PROT_WRITE;

function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof Errno) return e.code;
    throw e;
  }
  return "ok";
}

function withMemory() {
  const t = setup();
  t.io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_IO | R.PCI_COMMAND_MASTER);
  return t;
}

describe("vfio-pci BAR regions: pread/pwrite", () => {
  it("round-trips through the function in naturally aligned accesses", () => {
    const { io, bar2 } = withMemory();
    expect(io.writeU(2, 0x10, 4, 0xcafef00d)).toBe(4);
    expect(io.readU(2, 0x10, 4)).toBe(0xcafef00d);
    bar2.log.length = 0;
    expect(io.write(2, 0x20, [1, 2, 3, 4, 5, 6, 7, 8])).toBe(8);
    expect(bar2.log).toEqual(["w4@20", "w4@24"]); // an 8-byte access, low half first
    bar2.log.length = 0;
    expect([...io.read(2, 0x21, 7)]).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(bar2.log).toEqual(["r1@21", "r2@22", "r4@24"]);
  });

  it("an access is shortened at the end of the BAR; one starting past it is EINVAL", () => {
    const { io } = withMemory();
    expect(io.read(2, 0xffc, 8).length).toBe(4);
    expect(errno(() => io.read(2, 0x1000, 1))).toBe("EINVAL");
  });

  it("memory BARs answer EIO while Memory Space Enable is off; I/O BARs do not look at it", () => {
    const { io } = setup();
    io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_IO);
    expect(errno(() => io.read(2, 0, 4))).toBe("EIO");
    expect(errno(() => io.write(0, 0, [1]))).toBe("EIO");
    expect(io.writeU(4, 4, 2, 0xbeef)).toBe(2);
    expect(io.readU(4, 4, 2)).toBe(0xbeef);
  });

  it("unimplemented BARs, the upper half of a 64-bit BAR, the ROM and unknown regions are EINVAL", () => {
    const { io } = withMemory();
    expect(errno(() => io.read(1, 0, 4))).toBe("EINVAL");
    expect(errno(() => io.read(5, 0, 4))).toBe("EINVAL");
    expect(errno(() => io.read(6, 0, 4))).toBe("EINVAL");
    expect(errno(() => io.write(6, 0, [0]))).toBe("EINVAL");
    expect(errno(() => io.read(9, 0, 4))).toBe("EINVAL");
    expect(io.read(2, 0, 0).length).toBe(0);
  });

  it("trap 15: MSI-X table bytes read 0xFF and writes vanish; PBA readable", () => {
    const { io, msix } = withMemory();
    const [efd] = io.eventfds(1);
    // vector 0 gets an eventfd; vector 1 is allocated but stays masked
    io.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, 2, 0, 2, [efd!, -1]);
    const before = msix!.message(0);
    expect([...io.read(0, 0x2000, 16)]).toEqual(new Array(16).fill(0xff));
    expect(io.write(0, 0x2000, new Array(16).fill(0))).toBe(16);
    expect(msix!.message(0)).toEqual(before);
    expect(msix!.vectorMasked(0)).toBe(false);
    // a read spanning the end of the table: table bytes 0xFF, then the device's own bytes
    const tail = io.read(0, 0x2000 + 8 * 16 - 4, 8);
    expect([...tail.subarray(0, 4)]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect([...tail.subarray(4)]).toEqual([0, 0, 0, 0]);
    expect(msix!.fire(1)).toBe("pending");
    expect(io.readU(0, 0x3000, 4)).toBe(0b10);
    // the hidden table does not even look at Memory Space Enable
    io.setCfg(R.PCI_COMMAND, 2, 0);
    expect([...io.read(0, 0x2010, 4)]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(errno(() => io.read(0, 0x3000, 4))).toBe("EIO");
  });
});

describe("vfio-pci BAR regions: mmap", () => {
  it("maps a BAR whose accesses reach the function, MSI-X table included", () => {
    const { kernel, fd, bar0, msix, fn } = withMemory();
    const m = kernel.mmap(fd, 0x4000, RW, MMAP.MAP_SHARED, 0n);
    m.write(0x100, Uint8Array.from([9, 8, 7, 6]));
    expect([...bar0.bytes.subarray(0x100, 0x104)]).toEqual([9, 8, 7, 6]);
    expect([...m.read(0x100, 4)]).toEqual([9, 8, 7, 6]);
    // MSIX_MAPPABLE: the table is reachable through the mapping
    m.write(0x2000 + 8, Uint8Array.from([0x44, 0x33, 0, 0]));
    expect(msix!.message(0).data).toBe(0x3344);
    const hit = findDeviceMapping(kernel, m.addr + 0x10n);
    expect(hit?.target.fn).toBe(fn);
    expect(hit?.offset).toBe(0x10);
    const part = kernel.mmap(fd, 0x1000, MMAP.PROT_READ, MMAP.MAP_SHARED, 0x1000n);
    expect(part.read(0, 4).length).toBe(4);
    expect(part.addr).not.toBe(m.addr);
  });

  it("refuses I/O BARs, config, ROM, MAP_PRIVATE and lengths past the BAR", () => {
    const { kernel, fd } = withMemory();
    const at = (i: number) => BigInt(i) << 40n;
    expect(errno(() => kernel.mmap(fd, 4096, RW, MMAP.MAP_SHARED, at(4)))).toBe("EINVAL");
    expect(errno(() => kernel.mmap(fd, 4096, RW, MMAP.MAP_SHARED, at(7)))).toBe("EINVAL");
    expect(errno(() => kernel.mmap(fd, 4096, RW, MMAP.MAP_SHARED, at(6)))).toBe("EINVAL");
    expect(errno(() => kernel.mmap(fd, 4096, RW, MMAP.MAP_PRIVATE, at(2)))).toBe("EINVAL");
    expect(errno(() => kernel.mmap(fd, 8192, RW, MMAP.MAP_SHARED, at(2)))).toBe("EINVAL");
    expect(errno(() => kernel.mmap(fd, 4096, RW, MMAP.MAP_SHARED, at(10)))).toBe("EINVAL");
  });

  it("touching a mapping with memory decoding off is a SIGBUS (EIO); writing a read-only one a SIGSEGV", () => {
    const { kernel, fd, io } = withMemory();
    const m = kernel.mmap(fd, 4096, RW, MMAP.MAP_SHARED, 2n << 40n);
    io.setCfg(R.PCI_COMMAND, 2, 0);
    expect(errno(() => m.read(0, 4))).toBe("EIO");
    io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    expect(m.read(0, 4).length).toBe(4);
    const ro = kernel.mmap(fd, 4096, MMAP.PROT_READ, MMAP.MAP_SHARED, 2n << 40n);
    expect(errno(() => ro.write(0, Uint8Array.of(1)))).toBe("EFAULT");
  });
});

describe("vfio-pci VGA region", () => {
  it("reaches legacy VGA addresses only, reading all ones when nothing decodes them", () => {
    const { io } = setup({ classCode: 0x030000 });
    expect([...io.read(8, 0xa0000, 2)]).toEqual([0xff, 0xff]);
    expect(io.read(8, 0x3bb, 4).length).toBe(1);
    expect(errno(() => io.read(8, 0xc0000, 1))).toBe("EINVAL");
    expect(errno(() => io.read(8, 0x100, 1))).toBe("EINVAL");
    expect(errno(() => setup().io.read(8, 0xa0000, 1))).toBe("EINVAL");
  });
});

describe("vfio-pci IOEVENTFD", () => {
  function ioeventfd(t: ReturnType<typeof setup>, bar: number, off: number, size: number, data: bigint, fd: number): number {
    const buf = new Uint8Array(32);
    const v = new DataView(buf.buffer);
    v.setUint32(0, 32, true);
    v.setUint32(4, size, true);
    v.setBigUint64(8, (BigInt(bar) << 40n) + BigInt(off), true);
    v.setBigUint64(16, data, true);
    v.setInt32(24, fd, true);
    return t.kernel.ioctl(t.fd, VFIO_DEVICE_IOEVENTFD, buf);
  }

  it("writes the value into the BAR each time the eventfd is signalled", () => {
    const t = withMemory();
    const efd = t.kernel.eventfd(0);
    expect(ioeventfd(t, 2, 0x40, 4, 0x12345678n, efd)).toBe(0);
    const one = new Uint8Array(8);
    one[0] = 1;
    t.kernel.write(efd, one);
    expect(t.io.readU(2, 0x40, 4)).toBe(0x12345678);
    expect(t.io.count(efd)).toBe(0n);
    expect(errno(() => ioeventfd(t, 2, 0x40, 4, 0x12345678n, efd))).toBe("EEXIST");
    expect(ioeventfd(t, 2, 0x40, 4, 0x12345678n, -1)).toBe(0);
    expect(errno(() => ioeventfd(t, 2, 0x40, 4, 0x12345678n, -1))).toBe("ENODEV");
  });

  it("refuses the MSI-X table, non-BAR regions, bad sizes and bad fds", () => {
    const t = withMemory();
    const efd = t.kernel.eventfd(0);
    expect(errno(() => ioeventfd(t, 0, 0x2000, 4, 0n, efd))).toBe("EINVAL");
    expect(errno(() => ioeventfd(t, 7, 0, 4, 0n, efd))).toBe("EINVAL");
    expect(errno(() => ioeventfd(t, 2, 0, 3, 0n, efd))).toBe("EINVAL");
    expect(errno(() => ioeventfd(t, 2, 0xffe, 4, 0n, efd))).toBe("EINVAL");
    expect(errno(() => ioeventfd(t, 2, 0, 4, 0n, 999))).toBe("EBADF");
  });
});
