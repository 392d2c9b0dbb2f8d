/**
 * BAR regions: pread/pwrite through the device fd, and mmap.
 *
 * A read or write is cut into naturally aligned accesses of 8, 4, 2 or 1
 * bytes (an 8-byte access reaches the function as two 4-byte ones, low half
 * first). It may start anywhere inside the BAR and is shortened at its end;
 * starting at or past the end is EINVAL, as is any access to a BAR the host
 * gave no address. The MSI-X vector table is the host's: its bytes read as
 * 0xFF and writes to it vanish, while the PBA next to it stays readable.
 * Memory BARs answer EIO while the user's Memory Space Enable is off (the
 * excluded table bytes do not even look at it).
 *
 * An mmap maps pages of the BAR; its accesses go straight to the function,
 * MSI-X table included (the MSIX_MAPPABLE capability says so). Touching a
 * mapping while memory decoding is off is a SIGBUS, reported as an EIO Errno.
 */
import { Errno, MMAP, type Mapping } from "../../uapi/index.js";
import type { Kernel } from "../kernel.js";
import type { AccessSize } from "../../hw/pci/config-space.js";
import { PciDecodeError, type PciFunction } from "../../hw/pci/function.js";

const PAGE = 4096n;

/** User addresses of device mappings start here, above the registered-buffer area. */
export const DEVICE_MMAP_BASE = 0x7f00_0000_0000n;

export interface DeviceMappingTarget {
  fn: PciFunction;
  bar: number;
  /** offset in the BAR of the mapping's first byte */
  offset: number;
  length: number;
}

interface MappingSpace {
  next: bigint;
  maps: Map<bigint, DeviceMappingTarget>;
}

const spaces = new WeakMap<Kernel, MappingSpace>();

function space(kernel: Kernel): MappingSpace {
  let s = spaces.get(kernel);
  if (!s) {
    s = { next: DEVICE_MMAP_BASE, maps: new Map() };
    spaces.set(kernel, s);
  }
  return s;
}

/**
 * Which BAR a user address inside a device mapping points at (for a DMA map of
 * a peer's BAR), or null.
 */
export function findDeviceMapping(kernel: Kernel, addr: bigint): { target: DeviceMappingTarget; offset: number } | null {
  for (const [start, target] of space(kernel).maps) {
    if (addr >= start && addr < start + BigInt(target.length)) return { target, offset: target.offset + Number(addr - start) };
  }
  return null;
}

export interface BarAccessContext {
  readonly kernel: Kernel;
  readonly fn: PciFunction;
  /** vfio-pci's view: the user's Memory Space Enable (always on for a VF), and not in D3hot */
  memoryEnabled(): boolean;
  /** the MSI-X table, if any: [start, end) inside `bar` */
  msixTable(): { bar: number; start: number; end: number } | null;
}

const ALL_ONES = 0xffff_ffff;

export class BarAccess {
  constructor(private readonly ctx: BarAccessContext) {}

  /** The host address of a BAR: 0 when it has none (unimplemented to the user). */
  hostAddress(bar: number): bigint {
    const def = this.ctx.fn.bar(bar);
    return def ? (this.ctx.fn.barAddress(bar) ?? 0n) : 0n;
  }

  /** Length of a BAR (0 when the BAR is absent). */
  barSize(bar: number): number {
    return this.ctx.fn.bar(bar)?.size ?? 0;
  }

  /** Whether a BAR can be mmapped: a memory BAR with an address, a page or more, or alone in its page. */
  mmapSupported(bar: number): boolean {
    const def = this.ctx.fn.bar(bar);
    if (!def || def.kind === "io") return false;
    const start = this.hostAddress(bar);
    return start !== 0n && (BigInt(def.size) >= PAGE || start % PAGE === 0n);
  }

  private hwRead(bar: number, off: number, size: AccessSize): number {
    try {
      return this.ctx.fn.mmioRead(bar, off, size);
    } catch (e) {
      // the function does not decode it (e.g. the PF turned VF memory off): master abort
      if (e instanceof PciDecodeError) return ALL_ONES;
      throw e;
    }
  }

  private hwWrite(bar: number, off: number, size: AccessSize, value: number): void {
    try {
      this.ctx.fn.mmioWrite(bar, off, size, value);
    } catch (e) {
      if (!(e instanceof PciDecodeError)) throw e;
    }
  }

  rw(bar: number, pos: bigint, buf: Uint8Array, isWrite: boolean): number {
    const syscall = isWrite ? "pwrite" : "pread";
    const def = this.ctx.fn.bar(bar);
    if (!def || this.hostAddress(bar) === 0n) throw new Errno("EINVAL", `BAR${bar} is absent or has no host address`, syscall);
    const end = BigInt(def.size);
    if (pos >= end) throw new Errno("EINVAL", `offset 0x${pos.toString(16)} is past the end of BAR${bar} (0x${def.size.toString(16)} bytes)`, syscall);
    const count = Math.min(buf.byteLength, Number(end - pos));
    const table = this.ctx.msixTable();
    const [xs, xe] = table && table.bar === bar ? [table.start, table.end] : [0, 0];
    const testMem = def.kind !== "io";
    let off = Number(pos);
    let done = 0;
    while (done < count) {
      const left = count - done;
      const fillable = off < xs ? Math.min(left, xs - off) : off >= xe ? left : 0;
      let size: number;
      if (fillable >= 8 && off % 8 === 0) size = 8;
      else if (fillable >= 4 && off % 4 === 0) size = 4;
      else if (fillable >= 2 && off % 2 === 0) size = 2;
      else if (fillable > 0) size = 1;
      else {
        // inside the MSI-X table: reads see all ones, writes are dropped
        const n = Math.min(left, xe - off);
        if (!isWrite) buf.fill(0xff, done, done + n);
        off += n;
        done += n;
        continue;
      }
      if (testMem && !this.ctx.memoryEnabled()) {
        throw new Errno("EIO", `BAR${bar} access while the command register's Memory Space Enable is off`, syscall);
      }
      this.moveAligned(bar, off, buf, done, size, isWrite);
      off += size;
      done += size;
    }
    return done;
  }

  /** One naturally aligned access of 1, 2, 4 or 8 bytes between `buf[at..]` and the BAR. */
  private moveAligned(bar: number, off: number, buf: Uint8Array, at: number, size: number, isWrite: boolean): void {
    const pieces: [number, AccessSize][] = size === 8 ? [[0, 4], [4, 4]] : [[0, size as AccessSize]];
    for (const [rel, n] of pieces) {
      if (isWrite) {
        let v = 0;
        for (let i = n - 1; i >= 0; i--) v = v * 256 + buf[at + rel + i]!;
        this.hwWrite(bar, off + rel, n, v >>> 0);
      } else {
        const v = this.hwRead(bar, off + rel, n);
        for (let i = 0; i < n; i++) buf[at + rel + i] = (v >>> (8 * i)) & 0xff;
      }
    }
  }

  /** mmap `length` bytes of BAR `bar` from `pos` (page aligned). */
  mmap(bar: number, pos: bigint, length: number, prot: number): Mapping {
    const def = this.ctx.fn.bar(bar);
    if (!def || !this.mmapSupported(bar)) throw new Errno("EINVAL", `BAR${bar} cannot be mmapped`, "mmap");
    const physLen = ((BigInt(def.size) + PAGE - 1n) / PAGE) * PAGE;
    const reqLen = ((BigInt(length) + PAGE - 1n) / PAGE) * PAGE;
    if (pos + reqLen > physLen) throw new Errno("EINVAL", `[0x${pos.toString(16)}, +0x${reqLen.toString(16)}) is beyond BAR${bar}'s 0x${physLen.toString(16)} mappable bytes`, "mmap");
    const s = space(this.ctx.kernel);
    const addr = s.next;
    s.next += reqLen;
    const base = Number(pos);
    s.maps.set(addr, { fn: this.ctx.fn, bar, offset: base, length });
    const check = (off: number, len: number, what: string) => {
      if (!Number.isSafeInteger(off) || off < 0 || len < 0 || off + len > length) {
        throw new RangeError(`${what} [${off}, ${off + len}) is outside the ${length}-byte mapping`);
      }
      if (!this.ctx.memoryEnabled()) throw new Errno("EIO", `SIGBUS: BAR${bar} touched through mmap while memory decoding is off`, "mmap access");
    };
    const inBar = (o: number, n: number) => o + n <= def.size;
    return {
      addr,
      length,
      read: (off, len) => {
        check(off, len, "read");
        const out = new Uint8Array(len).fill(0xff);
        forEachPiece(base + off, len, (o, n, at) => {
          if (!inBar(o, n)) return;
          const v = this.hwRead(bar, o, n);
          for (let i = 0; i < n; i++) out[at + i] = (v >>> (8 * i)) & 0xff;
        });
        return out;
      },
      write: (off, bytes) => {
        check(off, bytes.byteLength, "write");
        if (!(prot & MMAP.PROT_WRITE)) throw new Errno("EFAULT", "SIGSEGV: the mapping was made without PROT_WRITE", "mmap access");
        forEachPiece(base + off, bytes.byteLength, (o, n, at) => {
          if (!inBar(o, n)) return;
          let v = 0;
          for (let i = n - 1; i >= 0; i--) v = v * 256 + bytes[at + i]!;
          this.hwWrite(bar, o, n, v >>> 0);
        });
      },
    };
  }
}

/** Walk [offset, offset+length) in naturally aligned pieces of 4, 2 or 1 bytes. */
function forEachPiece(offset: number, length: number, fn: (offset: number, size: AccessSize, at: number) => void): void {
  let at = 0;
  while (at < length) {
    const o = offset + at;
    const left = length - at;
    const size: AccessSize = o % 4 === 0 && left >= 4 ? 4 : o % 2 === 0 && left >= 2 ? 2 : 1;
    fn(o, size, at);
    at += size;
  }
}
