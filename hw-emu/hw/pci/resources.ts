/**
 * Address assignment for BARs, as platform firmware (or the host PCI core
 * on hotplug) does it: size each BAR by writing all ones and reading back,
 * carve a naturally aligned range out of an aperture, program the BAR
 * through ordinary config writes, optionally turn decoding on.
 */
import { barRegisterOffset, decodeProbedSize } from "./bar.js";
import type { PciFunction } from "./function.js";
import { PCI_COMMAND, PCI_COMMAND_IO, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from "../../uapi/pci-regs.js";

export interface ApertureOptions {
  /** 32-bit memory window (default [0xC000_0000, 0xFEC0_0000)) */
  mem32Base?: bigint;
  mem32Limit?: bigint;
  /** 64-bit memory window (default [16 TiB, 32 TiB): above any guest RAM the emulator allows) */
  mem64Base?: bigint;
  mem64Limit?: bigint;
  /** I/O port window (default [0xC000, 0x10000)) */
  ioBase?: bigint;
  ioLimit?: bigint;
}

class Window {
  constructor(
    private next: bigint,
    private readonly limit: bigint,
    private readonly label: string,
  ) {}
  take(size: bigint): bigint {
    const base = (this.next + size - 1n) & ~(size - 1n);
    if (base + size > this.limit) throw new Error(`${this.label} aperture exhausted (need 0x${size.toString(16)} bytes)`);
    this.next = base + size;
    return base;
  }
}

export class ResourceAllocator {
  private readonly mem32: Window;
  private readonly mem64: Window;
  private readonly io: Window;

  constructor(opts: ApertureOptions = {}) {
    this.mem32 = new Window(opts.mem32Base ?? 0xc000_0000n, opts.mem32Limit ?? 0xfec0_0000n, "32-bit memory");
    this.mem64 = new Window(opts.mem64Base ?? 0x1000_0000_0000n, opts.mem64Limit ?? 0x2000_0000_0000n, "64-bit memory");
    this.io = new Window(opts.ioBase ?? 0xc000n, opts.ioLimit ?? 0x1_0000n, "I/O");
  }

  /** A naturally aligned range of `size` bytes (a power of two). */
  allocate(kind: "mem32" | "mem64" | "io", size: bigint): bigint {
    if (size <= 0n || (size & (size - 1n)) !== 0n) throw new RangeError(`allocation size 0x${size.toString(16)} is not a power of two`);
    return kind === "io" ? this.io.take(size) : kind === "mem32" ? this.mem32.take(size) : this.mem64.take(size);
  }
}

export interface AssignOptions {
  /** set Memory/I/O Space Enable for the BAR kinds present */
  enableDecode?: boolean;
  /** set Bus Master Enable */
  busMaster?: boolean;
}

/**
 * Sizes and programs every BAR of a (non-VF) function through config cycles.
 * Returns BAR index -> assigned address.
 */
export function assignBars(fn: PciFunction, alloc: ResourceAllocator, opts: AssignOptions = {}): Map<number, bigint> {
  if (fn.vf) throw new Error("VF BARs are assigned through the PF's SR-IOV capability");
  const out = new Map<number, bigint>();
  let needMem = false;
  let needIo = false;
  // Decoding must be off while BARs hold all ones.
  const cmd = fn.configRead(PCI_COMMAND, 2);
  fn.configWrite(PCI_COMMAND, 2, cmd & ~(PCI_COMMAND_MEMORY | PCI_COMMAND_IO));
  for (let i = 0; i < 6; i++) {
    const reg = barRegisterOffset(i);
    const orig = fn.configRead(reg, 4);
    fn.configWrite(reg, 4, 0xffffffff);
    const low = fn.configRead(reg, 4);
    let high: number | null = null;
    const is64 = (low & 0x7) === 0x4;
    if (is64) {
      const origHigh = fn.configRead(reg + 4, 4);
      fn.configWrite(reg + 4, 4, 0xffffffff);
      high = fn.configRead(reg + 4, 4);
      fn.configWrite(reg + 4, 4, origHigh);
    }
    fn.configWrite(reg, 4, orig);
    const probed = decodeProbedSize(low, high);
    if (!probed) continue;
    const base = alloc.allocate(probed.kind, probed.size);
    fn.configWrite(reg, 4, Number(base & 0xffff_ffffn));
    if (is64) fn.configWrite(reg + 4, 4, Number(base >> 32n));
    out.set(i, base);
    if (probed.kind === "io") needIo = true;
    else needMem = true;
    if (is64) i++;
  }
  let next = cmd;
  if (opts.enableDecode) next |= (needMem ? PCI_COMMAND_MEMORY : 0) | (needIo ? PCI_COMMAND_IO : 0);
  if (opts.busMaster) next |= PCI_COMMAND_MASTER;
  fn.configWrite(PCI_COMMAND, 2, next);
  return out;
}
