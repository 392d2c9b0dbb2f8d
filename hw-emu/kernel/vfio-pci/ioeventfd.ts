/**
 * VFIO_DEVICE_IOEVENTFD: the user names an eventfd, a BAR offset, a size and
 * a value; every signal of the eventfd makes the kernel write that value there
 * (the VMM uses it to turn a trapped doorbell write into a kernel-side write).
 * fd -1 removes a matching entry. Writes are skipped while memory decoding is
 * off, and nothing may point into the MSI-X table.
 */
import { Errno } from "../../uapi/index.js";
import type { Kernel } from "../kernel.js";
import { EventFd } from "../eventfd.js";
import type { BarAccess } from "./bar-access.js";
import { REGION, splitOffset } from "./regions.js";

const SYSCALL = "VFIO_DEVICE_IOEVENTFD";
/** offsetofend(struct vfio_device_ioeventfd, fd) */
export const IOEVENTFD_MINSZ = 28;
const SIZE_MASK = 0xf;
/** the per-device limit */
const MAX_IOEVENTFDS = 1000;

interface Entry {
  bar: number;
  pos: bigint;
  data: bigint;
  count: number;
  off: () => void;
}

export class IoEventFds {
  private readonly entries: Entry[] = [];

  constructor(
    private readonly kernel: Kernel,
    private readonly bars: BarAccess,
    private readonly msixTable: () => { bar: number; start: number; end: number } | null,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  ioctl(bytes: Uint8Array): number {
    if (bytes.byteLength < IOEVENTFD_MINSZ) throw new Errno("EFAULT", `the buffer has ${bytes.byteLength} bytes, ${IOEVENTFD_MINSZ} are read`, SYSCALL);
    const view = new DataView(bytes.buffer, bytes.byteOffset, IOEVENTFD_MINSZ);
    const argsz = view.getUint32(0, true);
    const flags = view.getUint32(4, true);
    const offset = view.getBigUint64(8, true);
    const data = view.getBigUint64(16, true);
    const fd = view.getInt32(24, true);
    if (argsz < IOEVENTFD_MINSZ) throw new Errno("EINVAL", `argsz ${argsz} is below ${IOEVENTFD_MINSZ}`, SYSCALL);
    if (flags & ~SIZE_MASK) throw new Errno("EINVAL", `unknown flag bits 0x${(flags & ~SIZE_MASK).toString(16)}`, SYSCALL);
    const count = flags & SIZE_MASK;
    if (![1, 2, 4, 8].includes(count) || fd < -1) throw new Errno("EINVAL", "exactly one size flag and an fd of -1 or more are needed", SYSCALL);
    const { index: bar, pos } = splitOffset(offset);
    if (bar > REGION.BAR5) throw new Errno("EINVAL", "ioeventfds only write into BARs", SYSCALL);
    const def = this.bars.barSize(bar);
    if (pos + BigInt(count) > BigInt(def)) throw new Errno("EINVAL", `[0x${pos.toString(16)}, +${count}) is beyond BAR${bar}`, SYSCALL);
    const table = this.msixTable();
    if (table && table.bar === bar && !(pos + BigInt(count) <= BigInt(table.start) || pos >= BigInt(table.end))) {
      throw new Errno("EINVAL", "an ioeventfd may not write into the MSI-X table", SYSCALL);
    }
    const i = this.entries.findIndex((e) => e.bar === bar && e.pos === pos && e.data === data && e.count === count);
    if (i >= 0) {
      if (fd !== -1) throw new Errno("EEXIST", "the same ioeventfd is already registered", SYSCALL);
      this.entries[i]!.off();
      this.entries.splice(i, 1);
      return 0;
    }
    if (fd < 0) throw new Errno("ENODEV", "no matching ioeventfd to remove", SYSCALL);
    if (this.entries.length >= MAX_IOEVENTFDS) throw new Errno("ENOSPC", `at most ${MAX_IOEVENTFDS} ioeventfds per device`, SYSCALL);
    const f = this.kernel.file(fd, SYSCALL);
    if (!(f instanceof EventFd)) throw new Errno("EINVAL", `fd ${fd} is a ${f.kind}, not an eventfd`, SYSCALL);
    const bytesLE = new Uint8Array(count);
    for (let b = 0; b < count; b++) bytesLE[b] = Number((data >> BigInt(8 * b)) & 0xffn);
    const fire = () => {
      if (f.count > 0n) f.read(new Uint8Array(8));
      try {
        this.bars.rw(bar, pos, bytesLE, true);
      } catch (e) {
        // memory decoding off: the write is skipped
        if (!(e instanceof Errno && e.code === "EIO")) throw e;
      }
    };
    const off = f.onSignal(fire);
    this.entries.push({ bar, pos, data, count, off });
    if (f.count > 0n) fire();
    return 0;
  }

  clear(): void {
    for (const e of this.entries) e.off();
    this.entries.length = 0;
  }
}
