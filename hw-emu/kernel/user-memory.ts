/**
 * The emulated process's address space, as the kernel sees it through
 * copy_from_user / copy_to_user.
 *
 * Two kinds of memory have user addresses:
 * - buffers the caller registers with addressOf() (ioctl arguments that hold
 *   pointers: bitmaps, range arrays, UUIDs). The kernel reads and writes the
 *   caller's Uint8Array directly.
 * - anonymous mmap()s, backed by the machine's host memory. This is where a VMM
 *   keeps guest RAM; only this memory can be DMA-mapped (type1 MAP_DMA,
 *   iommufd IOAS_MAP), because a device needs host-physical pages behind it.
 * Any other address faults (EFAULT), as an unmapped user address does.
 */
import { Errno } from "../uapi/index.js";

/** Host memory as the hardware layer provides it. */
export interface HostMemory {
  read(addr: number, length: number): Uint8Array;
  write(addr: number, src: Uint8Array): void;
}

const PAGE = 4096;
/** anonymous mappings: user VA = ANON_BASE + host physical address */
export const ANON_BASE = 0x1000_0000_0000n;
/** registered buffers live here, each on its own pages */
const BUFFER_BASE = 0x7e00_0000_0000n;

interface Region {
  start: bigint;
  length: number;
}

export class UserAddressSpace {
  /**
   * Registered buffers in address order (addresses only grow), held weakly: a
   * buffer the caller drops is forgotten, as memory a process frees is unmapped.
   */
  private readonly buffers: { start: bigint; length: number; ref: WeakRef<Uint8Array> }[] = [];
  private readonly bufferAddr = new WeakMap<ArrayBufferLike, Map<number, bigint>>();
  private readonly forget = new FinalizationRegistry<bigint>((start) => {
    const i = this.indexAtOrBefore(start);
    if (i >= 0 && this.buffers[i]!.start === start) this.buffers.splice(i, 1);
  });
  private nextBuffer = BUFFER_BASE;
  private readonly anon: Region[] = [];
  private nextAnon = 0;

  constructor(
    private readonly host: HostMemory,
    private readonly hostSize: number,
  ) {}

  /** The user address of a buffer; the same buffer view always gets the same address. */
  addressOf(buf: Uint8Array): bigint {
    let byOffset = this.bufferAddr.get(buf.buffer);
    if (!byOffset) {
      byOffset = new Map();
      this.bufferAddr.set(buf.buffer, byOffset);
    }
    const known = byOffset.get(buf.byteOffset);
    if (known !== undefined) {
      const i = this.indexAtOrBefore(known);
      const e = i >= 0 ? this.buffers[i]! : undefined;
      if (e && e.start === known && e.ref.deref() === buf) return known;
    }
    const addr = this.nextBuffer;
    this.nextBuffer += BigInt(Math.ceil(Math.max(buf.byteLength, 1) / PAGE) * PAGE) + BigInt(PAGE);
    this.buffers.push({ start: addr, length: buf.byteLength, ref: new WeakRef(buf) });
    this.forget.register(buf, addr);
    byOffset.set(buf.byteOffset, addr);
    return addr;
  }

  /** Index of the last registered buffer starting at or below addr, or -1. */
  private indexAtOrBefore(addr: bigint): number {
    let lo = 0;
    let hi = this.buffers.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.buffers[mid]!.start <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Reserve `length` bytes of anonymous memory (page granular); returns its user address. */
  mapAnonymous(length: number): bigint {
    const size = Math.ceil(length / PAGE) * PAGE;
    if (size <= 0) throw new Errno("EINVAL", "mmap length must be positive", "mmap");
    if (this.nextAnon + size > this.hostSize) throw new Errno("ENOMEM", `host memory exhausted: ${this.nextAnon + size} > ${this.hostSize} bytes`, "mmap");
    const start = ANON_BASE + BigInt(this.nextAnon);
    this.nextAnon += size;
    this.anon.push({ start, length: size });
    return start;
  }

  unmapAnonymous(addr: bigint): void {
    const i = this.anon.findIndex((r) => r.start === addr);
    if (i < 0) throw new Errno("EINVAL", `no anonymous mapping at 0x${addr.toString(16)}`, "munmap");
    this.anon.splice(i, 1);
  }

  /** Host physical address behind [addr, addr+length) of anonymous memory, or EFAULT. */
  hostAddress(addr: bigint, length: number | bigint, syscall: string): number {
    const len = BigInt(length);
    for (const r of this.anon) {
      if (addr >= r.start && addr + len <= r.start + BigInt(r.length)) return Number(addr - ANON_BASE);
    }
    throw new Errno("EFAULT", `user range 0x${addr.toString(16)}+0x${len.toString(16)} is not anonymous memory this process mapped`, syscall);
  }

  private findBuffer(addr: bigint, length: number): { buf: Uint8Array; offset: number } | undefined {
    const i = this.indexAtOrBefore(addr);
    if (i < 0) return undefined;
    const e = this.buffers[i]!;
    const buf = e.ref.deref();
    if (!buf || addr + BigInt(length) > e.start + BigInt(e.length)) return undefined;
    return { buf, offset: Number(addr - e.start) };
  }

  /** The registered buffer bytes at [addr, addr+length), as a live view (writes reach the caller), if any. */
  bufferAt(addr: bigint, length: number): Uint8Array | undefined {
    const b = this.findBuffer(addr, length);
    return b ? b.buf.subarray(b.offset, b.offset + length) : undefined;
  }

  /** The registered buffer from addr to its end, as a live view. */
  bufferTail(addr: bigint): Uint8Array | undefined {
    const b = this.findBuffer(addr, 0);
    return b ? b.buf.subarray(b.offset) : undefined;
  }

  copyFromUser(addr: bigint, length: number, syscall: string): Uint8Array {
    if (length === 0) return new Uint8Array(0);
    const b = this.findBuffer(addr, length);
    if (b) return b.buf.slice(b.offset, b.offset + length);
    return this.host.read(this.hostAddress(addr, length, syscall), length);
  }

  copyToUser(addr: bigint, bytes: Uint8Array, syscall: string): void {
    if (bytes.byteLength === 0) return;
    const b = this.findBuffer(addr, bytes.byteLength);
    if (b) {
      b.buf.set(bytes, b.offset);
      return;
    }
    this.host.write(this.hostAddress(addr, bytes.byteLength, syscall), bytes);
  }

  /** Whether [addr, addr+length) is valid user memory of either kind. */
  accessible(addr: bigint, length: number): boolean {
    if (this.findBuffer(addr, length)) return true;
    return this.anon.some((r) => addr >= r.start && addr + BigInt(length) <= r.start + BigInt(r.length));
  }
}
