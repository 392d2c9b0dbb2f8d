/**
 * Base Address Registers: how a BAR is described, how its register bits are
 * laid out in config space (so that writing all-ones and reading back yields
 * the size mask, as firmware and the Linux PCI core do when sizing), and how
 * its current address is decoded.
 */
import type { AccessSize, ConfigSpace } from "./config-space.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_NUM_BARS,
} from "../../uapi/pci-regs.js";

export type BarKind = "mem32" | "mem64" | "io";

/** Register-level behaviour behind a BAR (offsets are relative to the BAR start). */
export interface MmioHandler {
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
}

export interface BarSpec {
  kind: BarKind;
  /** bytes; a power of two, at least 16 for memory and 4 for I/O */
  size: number;
  prefetchable?: boolean;
}

export interface BarDefinition extends BarSpec {
  handler: MmioHandler;
}

export function barRegisterOffset(index: number): number {
  return PCI_BASE_ADDRESS_0 + 4 * index;
}

export function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n <= 0) return false;
  const b = BigInt(n);
  return (b & (b - 1n)) === 0n;
}

/** Checks a BAR spec for a given index and returns how many BAR slots it takes (1 or 2). */
export function validateBarSpec(index: number, spec: BarSpec): 1 | 2 {
  if (!Number.isInteger(index) || index < 0 || index >= PCI_NUM_BARS) throw new RangeError(`BAR index ${index} not in 0..5`);
  if (!isPowerOfTwo(spec.size)) throw new RangeError(`BAR${index} size ${spec.size} is not a power of two`);
  if (spec.kind === "io") {
    if (spec.size < 4 || spec.size > 256) throw new RangeError(`I/O BAR${index} size must be 4..256 bytes`);
    if (spec.prefetchable) throw new RangeError(`I/O BAR${index} cannot be prefetchable`);
    return 1;
  }
  if (spec.size < 16) throw new RangeError(`memory BAR${index} must be at least 16 bytes`);
  if (spec.kind === "mem32") {
    if (spec.size > 0x8000_0000) throw new RangeError(`32-bit BAR${index} cannot exceed 2 GiB`);
    return 1;
  }
  if (index === PCI_NUM_BARS - 1) throw new RangeError("a 64-bit BAR cannot start at BAR5");
  return 2;
}

/** The read-only type bits in the low nibble of a BAR register. */
export function barFlagBits(spec: BarSpec): number {
  if (spec.kind === "io") return PCI_BASE_ADDRESS_SPACE_IO;
  return (spec.kind === "mem64" ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (spec.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
}

/**
 * Writable address bits of the BAR's register(s): `[low, high]` where high is
 * only meaningful for 64-bit BARs. Bits below the size are read-only zero,
 * which is what makes size probing work.
 */
export function barAddressMasks(spec: BarSpec): [number, number] {
  const sizeMask = ~(BigInt(spec.size) - 1n) & 0xffff_ffff_ffff_ffffn;
  const flagBits = spec.kind === "io" ? 0x3n : 0xfn;
  const low = Number(sizeMask & 0xffff_ffffn & ~flagBits);
  const high = spec.kind === "mem64" ? Number(sizeMask >> 32n) : 0;
  return [low >>> 0, high >>> 0];
}

/** Lays the BAR register(s) out in config space, address zero. */
export function defineBarRegisters(cfg: ConfigSpace, index: number, spec: BarSpec): void {
  const [low, high] = barAddressMasks(spec);
  cfg.define(barRegisterOffset(index), 4, barFlagBits(spec), { rw: low });
  if (spec.kind === "mem64") cfg.define(barRegisterOffset(index + 1), 4, 0, { rw: high });
}

/** Reads the address a BAR is currently programmed with (type bits stripped). */
export function readBarAddress(cfg: ConfigSpace, index: number, spec: BarSpec): bigint {
  const low = BigInt(cfg.peek(barRegisterOffset(index), 4));
  if (spec.kind === "io") return low & ~0x3n;
  const base = low & ~0xfn;
  if (spec.kind === "mem32") return base;
  return base | (BigInt(cfg.peek(barRegisterOffset(index + 1), 4)) << 32n);
}

/**
 * What software learns by sizing a BAR register pair: returns the size that
 * `writeAllOnes -> read -> restore` reveals. Exposed for tests and lab use;
 * the PCI core in the emulated kernel does the same through config accesses.
 */
export function decodeProbedSize(lowReadback: number, highReadback: number | null): { kind: BarKind; size: bigint; prefetchable: boolean } | null {
  if (lowReadback === 0 && (highReadback === null || highReadback === 0)) return null;
  if (lowReadback & PCI_BASE_ADDRESS_SPACE_IO) {
    const mask = BigInt(lowReadback & ~0x3) & 0xffffn;
    return { kind: "io", size: (~mask & 0xffffn) + 1n, prefetchable: false };
  }
  const is64 = (lowReadback & 0x6) === PCI_BASE_ADDRESS_MEM_TYPE_64;
  const prefetchable = (lowReadback & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0;
  let mask = BigInt(lowReadback >>> 0) & ~0xfn;
  if (is64) {
    mask |= BigInt((highReadback ?? 0) >>> 0) << 32n;
    return { kind: "mem64", size: (~mask & 0xffff_ffff_ffff_ffffn) + 1n, prefetchable };
  }
  return { kind: "mem32", size: (~mask & 0xffff_ffffn) + 1n, prefetchable };
}
