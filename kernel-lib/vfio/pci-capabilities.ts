/**
 * The interrupt capabilities of a PCI function, found by walking the capability list in the
 * config region as a driver does (QEMU's vfio_msix_early_setup() reads the same fields through
 * the same region). The MSI-X capability says where the vector table and the Pending Bit Array
 * live: a BAR (BIR) and an offset in it.
 */
import * as R from "../../hw-emu/uapi/pci-regs.js";
import type { Device } from "./device.js";

export interface MsixCapability {
  /** config-space offset of the capability */
  offset: number;
  /** Table Size + 1 */
  vectors: number;
  tableBar: number;
  tableOffset: number;
  pbaBar: number;
  pbaOffset: number;
  /** Message Control as read: MSI-X Enable */
  enabled: boolean;
  /** Message Control as read: Function Mask */
  functionMasked: boolean;
}

export interface MsiCapability {
  offset: number;
  /** vectors the function asks for (Multiple Message Capable) */
  vectors: number;
  address64: boolean;
  perVectorMask: boolean;
  /** config offset of the Pending Bits register, when the function has per-vector masking */
  pendingOffset: number | null;
  enabled: boolean;
}

export interface InterruptCapabilities {
  msix: MsixCapability | null;
  msi: MsiCapability | null;
}

/** A loop guard: 48 capabilities fill the 192 bytes after the header. */
const MAX_CAPS = 48;

/** Walk the capability list of a config space image (at least the first 256 bytes). */
export function interruptCapabilities(config: Uint8Array): InterruptCapabilities {
  const u16 = (o: number) => config[o]! | (config[o + 1]! << 8);
  const u32 = (o: number) => (u16(o) | (u16(o + 2) << 16)) >>> 0;
  const out: InterruptCapabilities = { msix: null, msi: null };
  if (config.length < 0x40 || !(u16(R.PCI_STATUS) & R.PCI_STATUS_CAP_LIST)) return out;
  let p = config[R.PCI_CAPABILITY_LIST]! & ~3;
  for (let hops = 0; p >= 0x40 && p + 4 <= config.length && hops < MAX_CAPS; hops++) {
    const id = config[p]!;
    if (id === R.PCI_CAP_ID_MSIX && p + R.PCI_CAP_MSIX_SIZEOF <= config.length) {
      const ctrl = u16(p + R.PCI_MSIX_FLAGS);
      const table = u32(p + R.PCI_MSIX_TABLE);
      const pba = u32(p + R.PCI_MSIX_PBA);
      out.msix = {
        offset: p,
        vectors: (ctrl & R.PCI_MSIX_FLAGS_QSIZE) + 1,
        tableBar: table & R.PCI_MSIX_BIR_MASK,
        tableOffset: (table & ~R.PCI_MSIX_BIR_MASK) >>> 0,
        pbaBar: pba & R.PCI_MSIX_BIR_MASK,
        pbaOffset: (pba & ~R.PCI_MSIX_BIR_MASK) >>> 0,
        enabled: (ctrl & R.PCI_MSIX_FLAGS_ENABLE) !== 0,
        functionMasked: (ctrl & R.PCI_MSIX_FLAGS_MASKALL) !== 0,
      };
    } else if (id === R.PCI_CAP_ID_MSI) {
      const ctrl = u16(p + R.PCI_MSI_FLAGS);
      const address64 = (ctrl & R.PCI_MSI_FLAGS_64BIT) !== 0;
      const perVectorMask = (ctrl & R.PCI_MSI_FLAGS_MASKBIT) !== 0;
      out.msi = {
        offset: p,
        vectors: 1 << ((ctrl & R.PCI_MSI_FLAGS_QMASK) >> 1),
        address64,
        perVectorMask,
        pendingOffset: perVectorMask ? p + (address64 ? 0x14 : 0x10) : null,
        enabled: (ctrl & R.PCI_MSI_FLAGS_ENABLE) !== 0,
      };
    }
    p = config[p + 1]! & ~3;
  }
  return out;
}

/** Read the device's config region (its first 256 bytes) and walk its capability list. */
export function readInterruptCapabilities(device: Device): InterruptCapabilities {
  const cfg = device.config;
  return interruptCapabilities(cfg.read(0, Math.min(256, Number(cfg.info.size))));
}
