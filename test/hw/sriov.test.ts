import { describe, expect, it } from "vitest";
import { PciBus } from "../../hw-emu/hw/pci/bus.js";
import { PciFunction } from "../../hw-emu/hw/pci/function.js";
import { findExtendedCapability } from "../../hw-emu/hw/pci/capabilities.js";
import { ResourceAllocator, assignBars } from "../../hw-emu/hw/pci/resources.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { SriovPf, type VfContext } from "../../hw-emu/hw/sriov.js";

function vfFactory(created: VfContext[]) {
  return (ctx: VfContext) => {
    created.push(ctx);
    const regs = new Uint32Array(0x1000 / 4);
    regs[0] = 0xc0de0000 + ctx.index;
    return new PciFunction({
      name: `vf${ctx.index}`,
      vendorId: ctx.vendorId,
      deviceId: ctx.deviceId,
      classCode: 0x020000,
      interruptPin: 1, // ignored: VFs have no INTx
      vf: ctx.backing,
      bars: {
        0: {
          kind: "mem64",
          size: 0x1000,
          handler: { read: (o) => regs[o >> 2]!, write: (o, _s, v) => void (regs[o >> 2] = v) },
        },
      },
    });
  };
}

function setup(opts: { firstVfOffset: number; vfStride: number; totalVfs?: number }) {
  const created: VfContext[] = [];
  const pf = new SriovPf({
    vendorId: 0x15b3,
    deviceId: 0x101d,
    classCode: 0x020000,
    sriov: {
      totalVfs: opts.totalVfs ?? 8,
      firstVfOffset: opts.firstVfOffset,
      vfStride: opts.vfStride,
      vfDeviceId: 0x101e,
      vfBars: { 0: { kind: "mem64", size: 0x1000, prefetchable: true } },
      createVf: vfFactory(created),
    },
  });
  const bus = new PciBus();
  bus.attach(pf.fn, 0x0300); // 03:00.0
  return { pf, bus, created, cap: pf.sriov.offset };
}

describe("SR-IOV capability", () => {
  it("is an extended capability with the programmed fields", () => {
    const { pf, cap } = setup({ firstVfOffset: 1, vfStride: 1 });
    expect(findExtendedCapability(pf.fn.config, R.PCI_EXT_CAP_ID_SRIOV)).toBe(cap);
    const rd = (o: number, n: 2 | 4) => pf.fn.configRead(cap + o, n);
    expect(rd(R.PCI_SRIOV_TOTAL_VF, 2)).toBe(8);
    expect(rd(R.PCI_SRIOV_INITIAL_VF, 2)).toBe(8);
    expect(rd(R.PCI_SRIOV_VF_OFFSET, 2)).toBe(1);
    expect(rd(R.PCI_SRIOV_VF_STRIDE, 2)).toBe(1);
    expect(rd(R.PCI_SRIOV_VF_DID, 2)).toBe(0x101e);
    // VF BAR0 sizes to one VF's share
    pf.fn.configWrite(cap + R.PCI_SRIOV_BAR, 4, 0xffffffff);
    expect(pf.fn.configRead(cap + R.PCI_SRIOV_BAR, 4)).toBe(0xfffff00c);
  });

  it("creates VFs at PF + First VF Offset + i * VF Stride when VF Enable is set", () => {
    const { pf, bus, created, cap } = setup({ firstVfOffset: 4, vfStride: 2 });
    pf.fn.configWrite(cap + R.PCI_SRIOV_NUM_VF, 2, 3);
    expect(bus.functions()).toHaveLength(1);
    pf.fn.configWrite(cap + R.PCI_SRIOV_CTRL, 2, R.PCI_SRIOV_CTRL_VFE);
    const rids = bus.functions().map((f) => f.routingId);
    expect(rids).toEqual([0x300, 0x304, 0x306, 0x308]);
    expect(created.map((c) => c.routingId)).toEqual([0x304, 0x306, 0x308]);
    const vf1 = bus.get(0x306)!;
    expect(vf1.vendorId).toBe(0x15b3);
    expect(vf1.deviceId).toBe(0x101e);
    expect(vf1.configRead(R.PCI_INTERRUPT_PIN, 1)).toBe(0);
    // NumVFs is frozen while enabled
    pf.fn.configWrite(cap + R.PCI_SRIOV_NUM_VF, 2, 5);
    expect(pf.sriov.numVfs).toBe(3);
    // clearing VF Enable removes them
    pf.fn.configWrite(cap + R.PCI_SRIOV_CTRL, 2, 0);
    expect(bus.functions().map((f) => f.routingId)).toEqual([0x300]);
    expect(vf1.attached).toBe(false);
  });

  it("VF routing ids can cross into the next bus number", () => {
    const { pf, bus } = setup({ firstVfOffset: 0xfe, vfStride: 1, totalVfs: 4 });
    pf.sriov.enableVfs(4);
    expect(bus.functions().map((f) => f.routingId)).toEqual([0x300, 0x3fe, 0x3ff, 0x400, 0x401]);
  });

  it("VF BARs come from the PF's VF BARs and decode under VF Memory Space Enable", () => {
    const { pf, bus } = setup({ firstVfOffset: 1, vfStride: 1 });
    const alloc = new ResourceAllocator();
    assignBars(pf.fn, alloc, { enableDecode: true });
    const vfBase = pf.sriov.assignVfBars(alloc).get(0)!;
    const vfs = pf.sriov.enableVfs(2);
    expect(vfs[1]!.barAddress(0)).toBe(vfBase + 0x1000n);
    // VF BAR registers in the VF's own config space read as zero
    expect(vfs[1]!.configRead(0x10, 4)).toBe(0);
    expect(bus.memRead(vfBase + 0x1000n, 4)).toBe(0xc0de0001);
    expect(bus.memRead(vfBase, 4)).toBe(0xc0de0000);
    // memory enable bit of the VF command register is reserved
    vfs[0]!.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
    expect(vfs[0]!.configRead(R.PCI_COMMAND, 2)).toBe(R.PCI_COMMAND_MASTER);
    const cap = pf.sriov.offset;
    pf.fn.configWrite(cap + R.PCI_SRIOV_CTRL, 2, R.PCI_SRIOV_CTRL_VFE);
    expect(vfs[0]!.memoryDecodeEnabled()).toBe(false);
    expect(bus.memRead(vfBase, 4)).toBe(0xffffffff);
  });

  it("PF function-level reset removes the VFs", () => {
    const { pf, bus } = setup({ firstVfOffset: 1, vfStride: 1 });
    pf.sriov.enableVfs(2);
    expect(bus.functions()).toHaveLength(3);
    pf.fn.reset();
    expect(bus.functions()).toHaveLength(1);
    expect(pf.sriov.vfEnable).toBe(false);
  });
});
