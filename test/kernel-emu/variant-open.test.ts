/**
 * Opening a device with a migration driver, and VFIO_DEVICE_RESET on it, reset the function once,
 * as vfio-pci does (pci_try_reset_function(): config saved, FLR, config restored); the variant
 * driver's own reset hook only returns the migration state to RUNNING. So the BARs keep their
 * addresses, a memory BAR read with Memory Space off is EIO (vfio_pci_rdwr.c), and BAR0 stays
 * mmappable.
 */
import { describe, expect, it } from "vitest";
import { Container, createEmuBackend, Group, VfioError } from "../../kernel-lib/index.js";
import { PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_COMMAND, PCI_COMMAND_MEMORY } from "../../hw-emu/uapi/pci-regs.js";

function open(model: "nic" | "accel") {
  const host = createEmuBackend({ devices: [{ model }] });
  const container = Container.open(host.sys);
  const group = Group.open(host.sys, host.devices[0]!.group);
  group.setContainer(container);
  container.setIommu();
  return group.device(host.devices[0]!.address);
}

/** BAR0's address as the user reads it: both halves of a 64-bit BAR. */
function bar0(dev: ReturnType<typeof open>): bigint {
  const low = dev.config.readU32(PCI_BASE_ADDRESS_0);
  const high = low & PCI_BASE_ADDRESS_MEM_TYPE_64 ? dev.config.readU32(PCI_BASE_ADDRESS_0 + 4) : 0;
  return (BigInt(high) << 32n) | BigInt(low & ~0xf);
}

function command(dev: ReturnType<typeof open>, memory: boolean): void {
  const v = new DataView(dev.config.read(PCI_COMMAND, 2).buffer).getUint16(0, true);
  const next = memory ? v | PCI_COMMAND_MEMORY : v & ~PCI_COMMAND_MEMORY;
  dev.config.write(PCI_COMMAND, new Uint8Array([next & 0xff, next >> 8]));
}

function code(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof VfioError) return e.code;
    throw e;
  }
}

describe("a variant driver's device after open and after VFIO_DEVICE_RESET", () => {
  for (const model of ["nic", "accel"] as const) {
    it(`${model}: BAR0 keeps its address, reads EIO with memory off, and is mmappable`, () => {
      const dev = open(model);
      for (const when of ["after open", "after VFIO_DEVICE_RESET"]) {
        if (when !== "after open") dev.reset();
        expect(bar0(dev), when).not.toBe(0n);
        expect(dev.regionInfo(0).mmappable, when).toBe(true);
        command(dev, false);
        expect(code(() => dev.region(0).readU32(0)), when).toBe("EIO");
        command(dev, true);
        expect(code(() => dev.region(0).readU32(0)), when).toBe("ok");
        expect(dev.migration!.state(), when).toBe("RUNNING");
      }
    });
  }
});
