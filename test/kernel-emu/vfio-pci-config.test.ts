import { describe, expect, it } from "vitest";
import { Errno, VFIO_IRQ_SET } from "../../hw-emu/uapi/index.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { HOST_MSI_ADDRESS } from "../../hw-emu/kernel/vfio-pci/index.js";
import { setup } from "./fixtures/pci-fixture.js";

const CFG = 7;
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

/** Walk the standard capability list as a user sees it. */
function userCaps(io: ReturnType<typeof setup>["io"]): [number, number][] {
  const out: [number, number][] = [];
  let p = io.cfg(R.PCI_CAPABILITY_LIST, 1);
  while (p) {
    out.push([io.cfg(p, 1), p]);
    p = io.cfg(p + 1, 1);
  }
  return out;
}

describe("vfio-pci config space: command register", () => {
  it("Memory Space and Bus Master reach the function; INTx Disable is virtual but followed outside INTx mode", () => {
    const { io, fn } = setup();
    io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
    expect(fn.command() & (R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER)).toBe(R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
    expect(io.cfg(R.PCI_COMMAND, 2) & 0x7).toBe(R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
    io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_INTX_DISABLE);
    expect(io.cfg(R.PCI_COMMAND, 2)).toBe(R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_INTX_DISABLE);
    expect(fn.busMasterEnabled()).toBe(false);
  });

  it("opening the device enables decoding of the assigned BARs and clears Bus Master", () => {
    const { fn } = setup();
    expect(fn.memoryDecodeEnabled()).toBe(true);
    expect(fn.ioDecodeEnabled()).toBe(true);
    expect(fn.busMasterEnabled()).toBe(false);
  });
});

describe("vfio-pci config space: BARs are virtual", () => {
  it("sizing with all ones returns the size masks and type bits; the hardware keeps its addresses", () => {
    const { io, fn, bars } = setup();
    for (let i = 0; i < 6; i++) io.setCfg(R.PCI_BASE_ADDRESS_0 + 4 * i, 4, 0xffffffff);
    expect(io.cfg(R.PCI_BASE_ADDRESS_0) >>> 0).toBe(0xffffc004); // 16 KiB, 64-bit
    expect(io.cfg(R.PCI_BASE_ADDRESS_0 + 4) >>> 0).toBe(0xffffffff);
    expect(io.cfg(R.PCI_BASE_ADDRESS_0 + 8) >>> 0).toBe(0xfffff000); // 4 KiB, 32-bit
    expect(io.cfg(R.PCI_BASE_ADDRESS_0 + 12)).toBe(0);
    expect(io.cfg(R.PCI_BASE_ADDRESS_0 + 16) >>> 0).toBe(0xffffffe1); // 32-byte I/O
    expect(io.cfg(R.PCI_BASE_ADDRESS_0 + 20)).toBe(0);
    expect(fn.barAddress(0)).toBe(bars.get(0));
    expect(fn.barAddress(2)).toBe(bars.get(2));
  });

  it("an address written is kept in the virtual copy, aligned to the BAR size", () => {
    const { io, fn, bars } = setup();
    io.setCfg(R.PCI_BASE_ADDRESS_0 + 8, 4, 0xfe000123);
    expect(io.cfg(R.PCI_BASE_ADDRESS_0 + 8) >>> 0).toBe(0xfe000000);
    expect(fn.barAddress(2)).toBe(bars.get(2));
    // the ROM BAR is unimplemented
    io.setCfg(R.PCI_ROM_ADDRESS, 4, 0xffffffff);
    expect(io.cfg(R.PCI_ROM_ADDRESS)).toBe(0);
  });

  it("the host's BARs are put back when they were lost behind vfio's back", () => {
    const { io, fn, bars } = setup();
    io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    fn.reset(); // a reset vfio-pci did not do
    expect(fn.barAddress(2)).toBe(0n);
    io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    expect(fn.barAddress(0)).toBe(bars.get(0));
    expect(fn.barAddress(2)).toBe(bars.get(2));
    expect(fn.memoryDecodeEnabled()).toBe(true);
  });
});

describe("vfio-pci config space: read-only and virtual fields", () => {
  it("ids, class, status and the interrupt pin ignore writes; the interrupt line is virtual", () => {
    const { io, fn } = setup();
    io.setCfg(0, 4, 0);
    expect(io.cfg(0) >>> 0).toBe(0x10f11af4);
    io.setCfg(R.PCI_CLASS_PROG, 1, 0x55);
    expect(io.cfg(R.PCI_CLASS_PROG, 1)).toBe(0);
    io.setCfg(R.PCI_STATUS, 2, 0);
    expect(io.cfg(R.PCI_STATUS, 2) & R.PCI_STATUS_CAP_LIST).toBe(R.PCI_STATUS_CAP_LIST);
    io.setCfg(R.PCI_INTERRUPT_PIN, 1, 3);
    expect(io.cfg(R.PCI_INTERRUPT_PIN, 1)).toBe(1);
    io.setCfg(R.PCI_INTERRUPT_LINE, 1, 0x0b);
    expect(io.cfg(R.PCI_INTERRUPT_LINE, 1)).toBe(0x0b);
    expect(fn.configRead(R.PCI_INTERRUPT_LINE, 1)).toBe(0xff);
  });

  it("reads of any length and alignment are cut into aligned pieces", () => {
    const { io } = setup();
    expect([...io.read(CFG, 1, 3)]).toEqual([0x1a, 0xf1, 0x10]);
    expect([...io.read(CFG, 0, 8)]).toEqual([...io.read(CFG, 0, 4), ...io.read(CFG, 4, 4)]);
  });

  it("accesses past the region are EFAULT", () => {
    const { io } = setup();
    expect(errno(() => io.read(CFG, 4095, 2))).toBe("EFAULT");
    expect(errno(() => io.read(CFG, 4096, 1))).toBe("EFAULT");
    expect(errno(() => io.write(CFG, 4094, [0, 0, 0]))).toBe("EFAULT");
    expect(io.read(CFG, 4095, 1).length).toBe(1);
    const conv = setup({ pcie: false });
    expect(errno(() => conv.io.read(CFG, 256, 1))).toBe("EFAULT");
  });
});

describe("vfio-pci config space: capabilities", () => {
  it("the chain is readable: PM, PCI Express, MSI-X, MSI; the PCIe capability shows FLR", () => {
    const { io } = setup();
    const caps = userCaps(io);
    expect(caps.map(([id]) => id)).toEqual([R.PCI_CAP_ID_PM, R.PCI_CAP_ID_EXP, R.PCI_CAP_ID_MSIX, R.PCI_CAP_ID_MSI]);
    const exp = caps[1]![1];
    expect(io.cfg(exp + R.PCI_EXP_DEVCAP) & R.PCI_EXP_DEVCAP_FLR).toBe(R.PCI_EXP_DEVCAP_FLR);
    // no extended capabilities: 0x100 reads the hardware's zero
    expect(io.cfg(0x100)).toBe(0);
  });

  it("capabilities vfio-pci does not know are unlinked", () => {
    const { io } = setup({ beforeAttach: (fn) => void fn.caps.add(0x0a, 8) });
    expect(userCaps(io).map(([id]) => id)).toEqual([R.PCI_CAP_ID_PM, R.PCI_CAP_ID_EXP, R.PCI_CAP_ID_MSIX, R.PCI_CAP_ID_MSI]);
  });

  it("MSI-X Message Control is the hardware's and user writes vanish; SET_IRQS is what enables it", () => {
    const { io, msix } = setup();
    const ctrl = msix!.capOffset + R.PCI_MSIX_FLAGS;
    io.setCfg(ctrl, 2, R.PCI_MSIX_FLAGS_ENABLE);
    expect(msix!.enabled).toBe(false);
    expect(io.cfg(ctrl, 2)).toBe(7);
    io.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, 2, 0, 1, io.eventfds(1));
    expect(msix!.enabled).toBe(true);
    expect(io.cfg(ctrl, 2) & R.PCI_MSIX_FLAGS_ENABLE).toBe(R.PCI_MSIX_FLAGS_ENABLE);
  });

  it("MSI: Enable stays off unless MSI is active; address/data are virtual; MMC shows the last grant", () => {
    const { io, msi, fn } = setup();
    const cap = msi!.capOffset;
    expect((io.cfg(cap + R.PCI_MSI_FLAGS, 2) & R.PCI_MSI_FLAGS_QMASK) >> 1).toBe(0);
    io.setCfg(cap + R.PCI_MSI_FLAGS, 2, R.PCI_MSI_FLAGS_ENABLE);
    expect(io.cfg(cap + R.PCI_MSI_FLAGS, 2) & R.PCI_MSI_FLAGS_ENABLE).toBe(0);
    expect(msi!.enabled).toBe(false);
    io.setCfg(cap + R.PCI_MSI_ADDRESS_LO, 4, 0xfee01000);
    io.setCfg(cap + 0x0c, 2, 0x4041);
    expect(io.cfg(cap + R.PCI_MSI_ADDRESS_LO) >>> 0).toBe(0xfee01000);
    expect(io.cfg(cap + 0x0c, 2)).toBe(0x4041);
    expect(fn.configRead(cap + R.PCI_MSI_ADDRESS_LO, 4)).toBe(0);
    io.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, 1, 0, 3, io.eventfds(3));
    expect(msi!.enabled).toBe(true);
    expect(BigInt(fn.configRead(cap + R.PCI_MSI_ADDRESS_LO, 4))).toBe(HOST_MSI_ADDRESS);
    expect(io.cfg(cap + R.PCI_MSI_ADDRESS_LO) >>> 0).toBe(0xfee01000);
    expect((io.cfg(cap + R.PCI_MSI_FLAGS, 2) & R.PCI_MSI_FLAGS_QMASK) >> 1).toBe(2); // 3 vectors -> 4
    // now the user's Enable reaches the function (and so does turning it off)
    io.setCfg(cap + R.PCI_MSI_FLAGS, 2, R.PCI_MSI_FLAGS_ENABLE | (2 << 4));
    expect(msi!.enabled).toBe(true);
  });

  it("Initiate FLR is virtual: it resets the function, reads back 0, and config state survives", () => {
    const { io, fn, bars } = setup();
    const exp = fn.pcieCap!;
    io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
    const before = fn.resetCount;
    io.setCfg(exp + R.PCI_EXP_DEVCTL, 2, io.cfg(exp + R.PCI_EXP_DEVCTL, 2) | R.PCI_EXP_DEVCTL_BCR_FLR);
    expect(fn.resetCount).toBe(before + 1);
    expect(io.cfg(exp + R.PCI_EXP_DEVCTL, 2) & R.PCI_EXP_DEVCTL_BCR_FLR).toBe(0);
    expect(fn.barAddress(0)).toBe(bars.get(0));
    expect(fn.busMasterEnabled()).toBe(true);
  });

  it("D3hot makes BAR accesses fail EIO until D0", () => {
    const { io, fn } = setup();
    const pm = fn.pmCap!;
    io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    io.setCfg(pm + R.PCI_PM_CTRL, 2, 3);
    expect(io.cfg(pm + R.PCI_PM_CTRL, 2) & 3).toBe(3);
    expect(errno(() => io.read(2, 0, 4))).toBe("EIO");
    io.setCfg(pm + R.PCI_PM_CTRL, 2, 0);
    expect(io.read(2, 0, 4).length).toBe(4);
  });
});
