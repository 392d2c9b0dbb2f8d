/**
 * The syscall line over a real Linux kernel, through the N-API addon. The typed
 * VFIO library runs on it unchanged. Errors are Errno built from the kernel's
 * errno; `detail` is set only where this backend refused a call itself (a path
 * it does not open, a buffer shorter than its argsz) or to name the path.
 */
import {
  Errno,
  MMAP,
  O_FLAGS,
  type Mapping,
  type PollFd,
  type PollResult,
  type Syscalls,
} from "../../../hw-emu/uapi/index.js";
import type { MappingHandle, NativeAddon } from "./addon.js";
import { checked, guarded } from "./errors.js";
import { NativeMapping } from "./mapping.js";
import { checkDevicePath } from "./paths.js";
import * as sysfs from "./sysfs.js";

function checkFd(fd: number, syscall: string): void {
  // a C caller cannot pass anything else; the kernel answers EBADF for negative descriptors
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fff_ffff) throw new Errno("EBADF", `${fd} is not a file descriptor`, syscall);
}

export class NativeSyscalls implements Syscalls {
  constructor(private readonly addon: NativeAddon) {}

  open(path: string, flags: number = O_FLAGS.O_RDWR): number {
    checkDevicePath(path);
    return checked(
      guarded("open", () => this.addon.open(path, flags)),
      "open",
      path,
    );
  }

  close(fd: number): void {
    checkFd(fd, "close");
    checked(this.addon.close(fd), "close");
  }

  ioctl(fd: number, request: number, arg?: number | bigint | Uint8Array): number {
    checkFd(fd, "ioctl");
    if (!Number.isInteger(request) || request < 0 || request > 0xffff_ffff) {
      throw new Errno("ENOTTY", `request ${request} is not a 32-bit ioctl number`, "ioctl");
    }
    if (arg instanceof Uint8Array) return checked(guarded("ioctl", () => this.addon.ioctlBuffer(fd, request, arg)), "ioctl");
    if (typeof arg === "number" && !Number.isInteger(arg)) throw new Errno("EINVAL", `ioctl argument ${arg} is not an integer`, "ioctl");
    const value = BigInt.asUintN(64, BigInt(arg ?? 0));
    return checked(guarded("ioctl", () => this.addon.ioctlValue(fd, request, value)), "ioctl");
  }

  read(fd: number, buf: Uint8Array): number {
    checkFd(fd, "read");
    return checked(this.addon.read(fd, buf), "read");
  }

  write(fd: number, buf: Uint8Array): number {
    checkFd(fd, "write");
    return checked(this.addon.write(fd, buf), "write");
  }

  pread(fd: number, buf: Uint8Array, offset: bigint): number {
    checkFd(fd, "pread");
    if (offset < 0n) throw new Errno("EINVAL", "negative offset", "pread");
    return checked(this.addon.pread(fd, buf, offset), "pread");
  }

  pwrite(fd: number, buf: Uint8Array, offset: bigint): number {
    checkFd(fd, "pwrite");
    if (offset < 0n) throw new Errno("EINVAL", "negative offset", "pwrite");
    return checked(this.addon.pwrite(fd, buf, offset), "pwrite");
  }

  /**
   * Device region mmap (fd, region offset) or anonymous memory (fd -1,
   * MAP_ANONYMOUS; MAP_NORESERVE is added so large guest RAM costs nothing
   * until touched). MAP_FIXED and PROT_EXEC are refused.
   */
  mmap(fd: number, length: number, prot: number, flags: number, offset: bigint): Mapping {
    if (!Number.isSafeInteger(length) || length <= 0) throw new Errno("EINVAL", `mmap length ${length} must be positive`, "mmap");
    if ((flags & (MMAP.MAP_SHARED | MMAP.MAP_PRIVATE)) === 0) throw new Errno("EINVAL", "mmap needs MAP_SHARED or MAP_PRIVATE", "mmap");
    if (offset < 0n) throw new Errno("EINVAL", "negative offset", "mmap");
    if (fd !== -1 || (flags & MMAP.MAP_ANONYMOUS) === 0) checkFd(fd, "mmap");
    const r = guarded("mmap", () => this.addon.mmap(fd, length, prot, flags, offset));
    if (typeof r === "number") throw Errno.fromNumber(-r, "mmap");
    return new NativeMapping(this.addon, r as MappingHandle, length);
  }

  munmap(mapping: Mapping): void {
    if (!(mapping instanceof NativeMapping)) throw new Errno("EINVAL", "not a mapping made by the native backend's mmap", "munmap");
    mapping.unmap();
  }

  eventfd(initval: number, flags = 0): number {
    if (!Number.isInteger(initval) || initval < 0 || initval > 0xffff_ffff) throw new Errno("EINVAL", `initval ${initval} is not an unsigned int`, "eventfd");
    return checked(
      guarded("eventfd", () => this.addon.eventfd(initval, flags)),
      "eventfd",
    );
  }

  /** poll(2). A negative timeout waits until an fd is ready, blocking the thread as the real call does. */
  poll(fds: readonly PollFd[], timeoutMs: number): PollResult[] {
    if (!Number.isInteger(timeoutMs) && Number.isFinite(timeoutMs)) throw new Errno("EINVAL", `timeout ${timeoutMs} ms is not an integer`, "poll");
    const entries = new Int32Array(fds.length * 3);
    fds.forEach(({ fd, events }, i) => {
      if (!Number.isInteger(fd) || fd < -0x8000_0000 || fd > 0x7fff_ffff) throw new Errno("EINVAL", `poll fd ${fd} is not an int`, "poll");
      if (!Number.isInteger(events) || events < 0 || events > 0xffff) throw new Errno("EINVAL", `poll events 0x${events.toString(16)} do not fit a short`, "poll");
      entries[3 * i] = fd;
      entries[3 * i + 1] = events;
    });
    const timeout = timeoutMs < 0 ? -1 : Math.min(timeoutMs, 0x7fff_ffff);
    checked(this.addon.poll(entries, timeout), "poll");
    const ready: PollResult[] = [];
    for (let i = 0; i < fds.length; i++) {
      const revents = entries[3 * i + 2]!;
      if (revents !== 0) ready.push({ fd: entries[3 * i]!, revents });
    }
    return ready;
  }

  /**
   * The real user virtual address of the buffer's first byte. V8 never moves a
   * typed array's bytes once their address has been taken, so the address holds
   * for as long as the buffer is reachable; keep it reachable while the kernel
   * may use the address.
   */
  addressOf(buf: Uint8Array): bigint {
    return this.addon.addressOf(buf);
  }

  readdir(path: string): string[] {
    return sysfs.readdir(path);
  }

  readlink(path: string): string {
    return sysfs.readlink(path);
  }

  readFile(path: string): string {
    return sysfs.readFile(path);
  }
}
