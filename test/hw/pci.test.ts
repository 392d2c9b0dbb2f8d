import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { bdfOf, formatBdf, parseBdf, routingId } from "../../hw-emu/hw/pci/address.js";
import { decodeProbedSize, type BarDefinition, type MmioHandler } from "../../hw-emu/hw/pci/bar.js";
import { PciBus } from "../../hw-emu/hw/pci/bus.js";
import { ConfigAccessError, ConfigSpace } from "../../hw-emu/hw/pci/config-space.js";
import { findCapability, findExtendedCapability, listCapabilities } from "../../hw-emu/hw/pci/capabilities.js";
import { PciDecodeError, PciFunction } from "../../hw-emu/hw/pci/function.js";
import { IntxLine } from "../../hw-emu/hw/pci/intx.js";
import { ResourceAllocator, assignBars } from "../../hw-emu/hw/pci/resources.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";

function ram(size: number): MmioHandler & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  return {
    bytes,
    read(off, n) {
      let v = 0;
      for (let i = n - 1; i >= 0; i--) v = v * 256 + bytes[off + i]!;
      return v;
    },
    write(off, n, value) {
      for (let i = 0; i < n; i++) bytes[off + i] = (value >>> (8 * i)) & 0xff;
    },
  };
}

function makeFn(bars: Partial<Record<number, BarDefinition>> = {}, extra: Partial<ConstructorParameters<typeof PciFunction>[0]> = {}) {
  return new PciFunction({ name: "t", vendorId: 0x1af4, deviceId: 0x1234, classCode: 0x020000, interruptPin: 1, bars, ...extra });
}

describe("addressing", () => {
  it("routing id is bus<<8 | dev<<3 | fn", () => {
    expect(routingId(3, 0, 1)).toBe(0x301);
    expect(routingId(0xff, 31, 7)).toBe(0xffff);
    expect(bdfOf(0x301)).toEqual({ bus: 3, device: 0, fn: 1 });
    expect(formatBdf(0x0309)).toBe("0000:03:01.1");
    expect(parseBdf("0000:03:01.1")).toBe(0x309);
    expect(() => routingId(0, 32, 0)).toThrow(RangeError);
  });
});

describe("config space", () => {
  it("honours read-only, read-write and write-1-to-clear bits per byte", () => {
    const cfg = new ConfigSpace(true);
    cfg.define(0x40, 4, 0x0000_ff00, { rw: 0x0000_00ff, w1c: 0x0000_0f00 });
    cfg.write(0x40, 4, 0xffff_ffff);
    // rw byte takes ff, w1c nibble cleared, read-only parts keep value
    expect(cfg.read(0x40, 4)).toBe(0x0000_f0ff);
    cfg.write(0x41, 1, 0x00); // writing 0 to w1c bits changes nothing
    expect(cfg.read(0x41, 1)).toBe(0xf0);
  });

  it("accepts aligned 1/2/4-byte accesses only, within the visible size", () => {
    const conv = new ConfigSpace(false);
    expect(conv.size).toBe(256);
    expect(() => conv.read(0x100, 4)).toThrow(ConfigAccessError);
    expect(() => conv.read(2, 4)).toThrow(ConfigAccessError);
    expect(() => conv.read(1, 2)).toThrow(ConfigAccessError);
    expect(() => conv.read(0, 3 as 4)).toThrow(ConfigAccessError);
    conv.define(0x10, 4, 0x11223344);
    expect(conv.read(0x10, 1)).toBe(0x44);
    expect(conv.read(0x12, 2)).toBe(0x1122);
    expect(conv.read(0x13, 1)).toBe(0x11);
  });

  it("property: a write changes exactly the writable bits", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (init, rwRaw, w1cRaw, val) => {
        const rw = rwRaw >>> 0;
        const w1c = (w1cRaw & ~rw) >>> 0;
        const cfg = new ConfigSpace(false);
        cfg.define(0x80, 4, init, { rw, w1c });
        cfg.write(0x80, 4, val);
        const expected = ((init & ~(rw | w1c)) | (val & rw) | (init & w1c & ~val)) >>> 0;
        expect(cfg.read(0x80, 4)).toBe(expected);
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe("PCI function header and capabilities", () => {
  it("builds a capability list with correct ids and next pointers", () => {
    const fn = makeFn();
    const caps = listCapabilities(fn.config);
    expect(caps.map((c) => c.id)).toEqual([R.PCI_CAP_ID_PM, R.PCI_CAP_ID_EXP]);
    expect(fn.configRead(R.PCI_STATUS, 2) & R.PCI_STATUS_CAP_LIST).toBeTruthy();
    expect(fn.configRead(R.PCI_CAPABILITY_LIST, 1)).toBe(caps[0]!.offset);
    expect(fn.configRead(caps[0]!.offset + 1, 1)).toBe(caps[1]!.offset);
    expect(fn.configRead(caps[1]!.offset + 1, 1)).toBe(0);
    expect(fn.config.size).toBe(4096);
    expect(findCapability(fn.config, R.PCI_CAP_ID_EXP)).toBe(fn.pcieCap);
    expect(fn.configRead(0x100, 4)).toBe(0); // no extended capabilities
  });

  it("extended capabilities chain through the 12-bit next field", () => {
    const fn = makeFn();
    const a = fn.caps.addExtended(R.PCI_EXT_CAP_ID_ERR, 2, 0x48);
    const b = fn.caps.addExtended(R.PCI_EXT_CAP_ID_ARI, 1, 8);
    expect(a).toBe(0x100);
    expect(fn.configRead(a, 4)).toBe((0x01 | (2 << 16) | (b << 20)) >>> 0);
    expect(findExtendedCapability(fn.config, R.PCI_EXT_CAP_ID_ARI)).toBe(b);
  });

  it("conventional functions have 256 bytes and refuse extended capabilities", () => {
    const fn = makeFn({}, { pcie: false });
    expect(fn.config.size).toBe(256);
    expect(fn.isPciExpress).toBe(false);
    expect(() => fn.caps.addExtended(0x10, 1, 0x40)).toThrow();
  });

  it("ids, class code and interrupt pin are read-only", () => {
    const fn = makeFn();
    fn.configWrite(0, 4, 0);
    fn.configWrite(R.PCI_CLASS_PROG, 1, 0x55);
    fn.configWrite(R.PCI_INTERRUPT_PIN, 1, 3);
    expect(fn.configRead(0, 4)).toBe(0x1234_1af4);
    expect(fn.configRead(0x08, 4) >>> 8).toBe(0x020000);
    expect(fn.configRead(R.PCI_INTERRUPT_PIN, 1)).toBe(1);
  });
});

describe("BARs", () => {
  const bars: Partial<Record<number, BarDefinition>> = {
    0: { kind: "mem64", size: 0x10_0000, prefetchable: true, handler: ram(0x10_0000) },
    2: { kind: "mem32", size: 0x1000, handler: ram(0x1000) },
    3: { kind: "io", size: 32, handler: ram(32) },
  };

  it("size probing: writing all ones reads back the size mask and type bits", () => {
    const fn = makeFn(bars);
    const probe = (reg: number) => {
      fn.configWrite(reg, 4, 0xffffffff);
      return fn.configRead(reg, 4);
    };
    const lo = probe(0x10);
    const hi = probe(0x14);
    expect(lo).toBe(0xfff0_000c); // 1 MiB, 64-bit, prefetchable
    expect(hi).toBe(0xffff_ffff);
    expect(decodeProbedSize(lo, hi)).toEqual({ kind: "mem64", size: 0x10_0000n, prefetchable: true });
    expect(probe(0x18)).toBe(0xffff_f000);
    expect(decodeProbedSize(0xffff_f000, null)).toEqual({ kind: "mem32", size: 0x1000n, prefetchable: false });
    expect(probe(0x1c)).toBe(0xffff_ffe1);
    expect(decodeProbedSize(0xffff_ffe1, null)?.size).toBe(32n);
    expect(probe(0x20)).toBe(0); // unimplemented
    expect(probe(0x30)).toBe(0); // no expansion ROM
  });

  it("property: any power-of-two memory BAR probes back its own size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 40 }), fc.boolean(), (log2, prefetch) => {
        const size = 2 ** log2;
        const fn = makeFn({ 0: { kind: "mem64", size, prefetchable: prefetch, handler: ram(16) } });
        fn.configWrite(0x10, 4, 0xffffffff);
        fn.configWrite(0x14, 4, 0xffffffff);
        const got = decodeProbedSize(fn.configRead(0x10, 4), fn.configRead(0x14, 4));
        expect(got).toEqual({ kind: "mem64", size: BigInt(size), prefetchable: prefetch });
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it("memory space enable gates MMIO decoding; bus master enable is a predicate", () => {
    const bus = new PciBus();
    const fn = makeFn(bars);
    bus.attach(fn, routingId(0, 2, 0));
    const assigned = assignBars(fn, new ResourceAllocator());
    const bar0 = assigned.get(0)!;
    expect(fn.barAddress(0)).toBe(bar0);
    expect(bar0 % 0x10_0000n).toBe(0n);
    expect(fn.memoryDecodeEnabled()).toBe(false);
    expect(() => fn.mmioRead(0, 0, 4)).toThrow(PciDecodeError);
    expect(bus.memRead(bar0, 4)).toBe(0xffffffff); // master abort
    expect(bus.memWrite(bar0, 4, 1)).toBe(false);
    fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    expect(bus.memWrite(bar0 + 8n, 4, 0xdeadbeef)).toBe(true);
    expect(fn.mmioRead(0, 8, 4)).toBe(0xdeadbeef);
    expect(fn.mmioRead(0, 9, 1)).toBe(0xbe);
    expect(() => fn.mmioRead(0, 9, 4)).toThrow(PciDecodeError); // unaligned
    expect(fn.busMasterEnabled()).toBe(false);
    fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
    expect(fn.busMasterEnabled()).toBe(true);
    // I/O BAR needs I/O space enable
    const io = assigned.get(3)!;
    expect(bus.ioRead(Number(io), 1)).toBe(0xff);
    fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_IO);
    bus.ioWrite(Number(io) + 4, 1, 0x5a);
    expect(bus.ioRead(Number(io) + 4, 1)).toBe(0x5a);
  });

  it("notifies decode listeners when BARs or enables change", () => {
    const bus = new PciBus();
    const fn = makeFn(bars);
    bus.attach(fn, 0x10);
    let n = 0;
    bus.onWindowsChange(() => n++);
    fn.configWrite(0x18, 4, 0xe000_0000);
    fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    expect(n).toBe(2);
    expect(bus.windows().map((w) => w.bar)).toEqual([0, 2]);
  });
});

describe("bus", () => {
  it("config cycles to an empty slot read all ones", () => {
    const bus = new PciBus();
    expect(bus.configRead(0x42, 0, 4)).toBe(0xffffffff);
    expect(bus.configRead(0x42, 0, 2)).toBe(0xffff);
    const fn = makeFn();
    bus.attach(fn, 0x42);
    expect(bus.configRead(0x42, 0, 2)).toBe(0x1af4);
    expect(() => bus.attach(makeFn(), 0x42)).toThrow(/occupied/);
    expect(bus.detach(0x42)).toBe(fn);
    expect(fn.attached).toBe(false);
  });
});

describe("function level reset", () => {
  it("initiate-FLR restores config defaults and runs reset hooks", () => {
    const bus = new PciBus();
    const fn = makeFn({ 0: { kind: "mem32", size: 0x1000, handler: ram(0x1000) } });
    let hooks = 0;
    fn.onReset(() => hooks++);
    bus.attach(fn, 0x08);
    fn.configWrite(0x10, 4, 0xe000_0000);
    fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
    const pm = fn.pmCap!;
    fn.configWrite(pm + R.PCI_PM_CTRL, 2, 3); // D3hot
    expect(fn.flrCapable).toBe(true);
    const devctl = fn.pcieCap! + R.PCI_EXP_DEVCTL;
    const before = fn.configRead(devctl, 2);
    fn.configWrite(devctl, 2, before | R.PCI_EXP_DEVCTL_BCR_FLR);
    expect(hooks).toBe(1);
    expect(fn.resetCount).toBe(1);
    expect(fn.configRead(0x10, 4)).toBe(0);
    expect(fn.configRead(R.PCI_COMMAND, 2)).toBe(0);
    expect(fn.configRead(pm + R.PCI_PM_CTRL, 2) & 3).toBe(0);
    expect(fn.configRead(devctl, 2) & R.PCI_EXP_DEVCTL_BCR_FLR).toBe(0);
  });

  it("without FLR capability the initiate bit is not writable", () => {
    const fn = makeFn({}, { pcie: { flr: false } });
    new PciBus().attach(fn, 1);
    let hooks = 0;
    fn.onReset(() => hooks++);
    fn.configWrite(fn.pcieCap! + R.PCI_EXP_DEVCTL, 2, 0xffff);
    expect(hooks).toBe(0);
    expect(fn.flrCapable).toBe(false);
  });

  it("device status error bits are write-1-to-clear", () => {
    const fn = makeFn();
    const devsta = fn.pcieCap! + R.PCI_EXP_DEVSTA;
    fn.config.poke(devsta, 2, R.PCI_EXP_DEVSTA_CED | R.PCI_EXP_DEVSTA_URD);
    fn.configWrite(devsta, 2, R.PCI_EXP_DEVSTA_CED);
    expect(fn.configRead(devsta, 2)).toBe(R.PCI_EXP_DEVSTA_URD);
    fn.config.poke(R.PCI_STATUS, 2, fn.config.peek(R.PCI_STATUS, 2) | R.PCI_STATUS_REC_MASTER_ABORT);
    fn.configWrite(R.PCI_STATUS, 2, R.PCI_STATUS_REC_MASTER_ABORT);
    expect(fn.configRead(R.PCI_STATUS, 2) & R.PCI_STATUS_REC_MASTER_ABORT).toBe(0);
  });
});

describe("INTx", () => {
  it("drives the pin only while INTx Disable is clear and mirrors Interrupt Status", () => {
    const fn = makeFn();
    new PciBus().attach(fn, 1);
    const intx = new IntxLine(fn);
    const seen: number[] = [];
    intx.setConsumer((m) => seen.push(m.data));
    fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_INTX_DISABLE);
    intx.assert();
    expect(fn.configRead(R.PCI_STATUS, 2) & R.PCI_STATUS_INTERRUPT).toBeTruthy();
    expect(seen).toEqual([]);
    fn.configWrite(R.PCI_COMMAND, 2, 0);
    expect(seen).toEqual([1]);
    intx.deassert();
    expect(seen).toEqual([1, 0]);
    expect(fn.configRead(R.PCI_STATUS, 2) & R.PCI_STATUS_INTERRUPT).toBe(0);
  });
});
