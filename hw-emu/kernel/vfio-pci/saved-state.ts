/**
 * What the PCI core saves around a function reset (pci_save_state /
 * pci_restore_state): the 64-byte header and the PCI Express control
 * registers. MSI/MSI-X programming is put back by the interrupt code from the
 * kernel's own records, not from here. A PF's SR-IOV state is not restored:
 * the hardware model removes the VFs when the PF resets.
 */
import type { PciFunction } from "../../hw/pci/function.js";
import * as R from "../../uapi/pci-regs.js";

const EXP_CONTROLS = [R.PCI_EXP_DEVCTL, R.PCI_EXP_LNKCTL, R.PCI_EXP_DEVCTL2, R.PCI_EXP_LNKCTL2] as const;

export interface SavedState {
  /** dwords 0..15 of the header */
  readonly header: readonly number[];
  /** PCI Express control registers by offset inside the capability */
  readonly exp: ReadonlyMap<number, number> | null;
}

export function saveState(fn: PciFunction): SavedState {
  const header: number[] = [];
  for (let i = 0; i < 16; i++) header.push(fn.configRead(4 * i, 4));
  let exp: Map<number, number> | null = null;
  if (fn.pcieCap !== undefined) {
    exp = new Map();
    for (const off of EXP_CONTROLS) exp.set(off, fn.configRead(fn.pcieCap + off, 2));
  }
  return { header, exp };
}

export function restoreState(fn: PciFunction, s: SavedState): void {
  if (fn.pcieCap !== undefined && s.exp) {
    for (const [off, v] of s.exp) {
      // never re-trigger a reset
      const value = off === R.PCI_EXP_DEVCTL ? v & ~R.PCI_EXP_DEVCTL_BCR_FLR : v;
      fn.configWrite(fn.pcieCap + off, 2, value);
    }
  }
  // BARs before the command register, so decoding comes back at the right addresses
  const order = [10, 11, 12, 13, 14, 15, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3];
  for (const i of order) {
    const saved = s.header[i]!;
    if (fn.configRead(4 * i, 4) !== saved) fn.configWrite(4 * i, 4, saved);
  }
}
