/**
 * The physical address decoder for DMA: windows of target (guest physical) address space
 * that belong to a device's BAR rather than to RAM. A DMA whose translated address falls in
 * a window is peer-to-peer and is handed to the window's target instead of memory.
 * Windows take precedence over RAM (like the PCI hole), and may not overlap each other.
 */

/** A device side of a peer-to-peer access. Offsets are relative to the window base. */
export interface MmioTarget {
  /**
   * A posted write from a peer. Return false to refuse it (for instance a device that is
   * stopped must not change state); the DMA engine then records the write as lost.
   */
  write(offset: number, data: Uint8Array): boolean;
  /**
   * A read from a peer: fill `dst` and return true, or return false to refuse (the
   * initiator then sees all-ones, as for an unsupported request). Absent means refuse.
   */
  read?(offset: number, dst: Uint8Array): boolean;
}

export interface MmioWindowSpec {
  /** target address of the first byte */
  base: number;
  /** bytes (non-zero) */
  size: number;
  target: MmioTarget;
  /** label for logs, e.g. "0000:01:00.1 BAR2" */
  name: string;
}

export interface MmioWindow extends Readonly<MmioWindowSpec> {
  /** Remove the window (e.g. when a BAR is moved or memory decoding is turned off). */
  unregister(): void;
}

export class MmioMap {
  /** windows sorted by base */
  private windows: MmioWindow[] = [];

  /** Register a window; throws RangeError if it overlaps an existing one. */
  register(spec: MmioWindowSpec): MmioWindow {
    const { base, size } = spec;
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size <= 0) {
      throw new RangeError(`bad MMIO window base=${base} size=${size}`);
    }
    for (const w of this.windows) {
      if (base < w.base + w.size && w.base < base + size) throw new RangeError(`MMIO window ${spec.name} overlaps ${w.name}`);
    }
    const win: MmioWindow = {
      base,
      size,
      target: spec.target,
      name: spec.name,
      unregister: () => {
        this.windows = this.windows.filter((w) => w !== win);
      },
    };
    this.windows = [...this.windows, win].sort((a, b) => a.base - b.base);
    return win;
  }

  get isEmpty(): boolean {
    return this.windows.length === 0;
  }

  /** registered windows, by base */
  list(): readonly MmioWindow[] {
    return this.windows;
  }

  /** The window containing `addr`, if any. */
  find(addr: number): MmioWindow | undefined {
    const ws = this.windows;
    let lo = 0;
    let hi = ws.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const w = ws[mid]!;
      if (addr < w.base) hi = mid - 1;
      else if (addr >= w.base + w.size) lo = mid + 1;
      else return w;
    }
    return undefined;
  }

  /** The first window starting inside (addr, addr+length), if any: where RAM stops. */
  nextWindowStart(addr: number, length: number): number {
    for (const w of this.windows) if (w.base > addr && w.base < addr + length) return w.base;
    return addr + length;
  }
}
