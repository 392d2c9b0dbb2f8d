import { describe, expect, it } from "vitest";
import { createEmuBackend } from "../../kernel-lib/backends/emu.js";
import { Container, Group } from "../../kernel-lib/vfio/container.js";
import { interruptCapabilities, readInterruptCapabilities } from "../../kernel-lib/vfio/pci-capabilities.js";

function open(model: "nic" | "accel") {
  const m = createEmuBackend({ devices: [{ model }] });
  const c = Container.open(m.sys);
  const g = Group.open(m.sys, m.devices[0]!.group);
  g.setContainer(c);
  c.setIommu();
  return g.device(m.devices[0]!.address);
}

describe("interrupt capabilities from the config region", () => {
  it("finds the NIC's MSI-X capability: table and PBA in BAR0, three vectors, off after open", () => {
    const caps = readInterruptCapabilities(open("nic"));
    expect(caps.msi).toBeNull();
    expect(caps.msix).toMatchObject({ vectors: 3, tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000, enabled: false, functionMasked: false });
  });

  it("finds the accelerator's MSI capability with its pending register", () => {
    const caps = readInterruptCapabilities(open("accel"));
    expect(caps.msix).toBeNull();
    expect(caps.msi).toMatchObject({ address64: true, perVectorMask: true, enabled: false });
    expect(caps.msi!.pendingOffset).toBe(caps.msi!.offset + 0x14);
  });

  it("answers none for a function without a capability list, and stops on a list that loops", () => {
    const cfg = new Uint8Array(256);
    expect(interruptCapabilities(cfg)).toEqual({ msix: null, msi: null });
    expect(interruptCapabilities(cfg.subarray(0, 16))).toEqual({ msix: null, msi: null });
    cfg[6] = 0x10; // Status: capability list
    cfg[0x34] = 0x40;
    cfg[0x40] = 0x11; // MSI-X, next pointing back at itself
    cfg[0x41] = 0x40;
    cfg[0x42] = 0x07; // Table Size 7: 8 vectors
    cfg[0x44] = 0x01; // table in BAR1 at 0
    cfg[0x48] = 0x02 | 0x800; // PBA in BAR2 at 0x800
    cfg[0x49] = 0x08;
    expect(interruptCapabilities(cfg).msix).toMatchObject({ vectors: 8, tableBar: 1, tableOffset: 0, pbaBar: 2, pbaOffset: 0x800 });
  });
});
