/**
 * The emulated kernel's system-call layer: an fd table, character devices by
 * path, a sysfs tree for discovery, and the process's address space. Every
 * request enters here and is dispatched to the open file the fd refers to, so
 * an ioctl number is interpreted by the kind of fd it arrives on, as in Linux.
 */
import {
  EFD,
  Errno,
  MMAP,
  O_FLAGS,
  POLL,
  type Mapping,
  type PollFd,
  type PollResult,
  type Syscalls,
} from "../uapi/index.js";
import { EventFd } from "./eventfd.js";
import { KFile, type IoctlArg } from "./file.js";
import { VirtualTree } from "./sysfs.js";
import { UserAddressSpace, type HostMemory } from "./user-memory.js";

const FIRST_FD = 3; // 0-2 are the process's stdio
const MAX_FDS = 1024;

/** Opens a character device; `flags` are the open(2) flags. */
export type DeviceOpener = (flags: number) => KFile;

/** Simulated time as the kernel needs it (for poll timeouts). */
export interface KernelClock {
  readonly now: number;
  /** run events until `t` (ns) */
  runUntil(t: number): void;
  readonly nextTime: number | undefined;
}

export interface SyscallTrace {
  call: string;
  fd?: number;
  request?: number;
  result?: number;
  errno?: string;
}

export class Kernel implements Syscalls {
  readonly sysfs = new VirtualTree();
  readonly user: UserAddressSpace;
  private readonly devices = new Map<string, DeviceOpener>();
  private readonly fds = new Map<number, KFile>();
  /** every call, when tracing is on (tests and notebooks read it) */
  trace: SyscallTrace[] | null = null;

  constructor(
    host: HostMemory,
    hostSize: number,
    private readonly clock: KernelClock,
  ) {
    this.user = new UserAddressSpace(host, hostSize);
  }

  /** Register a character device node (also visible to readdir of its folder). */
  addDevice(path: string, opener: DeviceOpener): void {
    this.devices.set(path, opener);
    this.sysfs.addFile(path, () => "");
  }

  removeDevice(path: string): void {
    this.devices.delete(path);
    this.sysfs.remove(path);
  }

  /** Install a kernel-created file (device fds, data fds, eventfds) and return its fd number. */
  install(file: KFile): number {
    for (let fd = FIRST_FD; fd < MAX_FDS; fd++) {
      if (!this.fds.has(fd)) {
        this.fds.set(fd, file);
        return fd;
      }
    }
    throw new Errno("EMFILE", `all ${MAX_FDS} file descriptors are in use`);
  }

  /** The open file behind an fd, or EBADF. */
  file(fd: number, syscall = ""): KFile {
    const f = Number.isInteger(fd) ? this.fds.get(fd) : undefined;
    if (!f) throw new Errno("EBADF", `fd ${fd} is not open`, syscall);
    return f;
  }

  /** Number of open fds (the fuzz invariants check that nothing leaks). */
  get openFds(): number {
    return this.fds.size;
  }

  openFiles(): ReadonlyMap<number, KFile> {
    return this.fds;
  }

  private traced<T extends number>(entry: SyscallTrace, fn: () => T): T {
    if (!this.trace) return fn();
    try {
      const r = fn();
      this.trace.push({ ...entry, result: r });
      return r;
    } catch (e) {
      this.trace.push({ ...entry, errno: e instanceof Errno ? e.code : String(e) });
      throw e;
    }
  }

  open(path: string, flags: number = O_FLAGS.O_RDWR): number {
    return this.traced({ call: `open ${path}` }, () => {
      const opener = this.devices.get(path);
      if (!opener) {
        if (this.sysfs.exists(path)) throw new Errno("ENXIO", `${path} is not a device this kernel can open`, "open");
        throw new Errno("ENOENT", `${path}: no such file or directory`, "open");
      }
      return this.install(opener(flags));
    });
  }

  close(fd: number): void {
    this.traced({ call: "close", fd }, () => {
      const f = this.file(fd, "close");
      this.fds.delete(fd);
      if (![...this.fds.values()].includes(f)) {
        f.closed = true;
        f.release();
      }
      return 0;
    });
  }

  ioctl(fd: number, request: number, arg?: number | bigint | Uint8Array): number {
    return this.traced({ call: "ioctl", fd, request }, () => {
      const f = this.file(fd, "ioctl");
      if (!Number.isInteger(request) || request < 0 || request > 0xffff_ffff) throw new Errno("ENOTTY", `request ${request} is not a 32-bit ioctl number`, "ioctl");
      return f.ioctl(request, this.toArg(arg));
    });
  }

  private toArg(arg: number | bigint | Uint8Array | undefined): IoctlArg {
    if (arg instanceof Uint8Array) return { kind: "buf", bytes: arg, addr: this.user.addressOf(arg) };
    if (arg === undefined) return { kind: "int", value: 0n };
    if (typeof arg === "number" && !Number.isInteger(arg)) throw new Errno("EINVAL", `ioctl argument ${arg} is not an integer`, "ioctl");
    return { kind: "int", value: BigInt.asUintN(64, BigInt(arg)) };
  }

  read(fd: number, buf: Uint8Array): number {
    return this.traced({ call: "read", fd }, () => this.file(fd, "read").read(buf));
  }

  write(fd: number, buf: Uint8Array): number {
    return this.traced({ call: "write", fd }, () => this.file(fd, "write").write(buf));
  }

  pread(fd: number, buf: Uint8Array, offset: bigint): number {
    return this.traced({ call: "pread", fd }, () => {
      const f = this.file(fd, "pread");
      if (offset < 0n) throw new Errno("EINVAL", "negative offset", "pread");
      return f.pread(buf, offset);
    });
  }

  pwrite(fd: number, buf: Uint8Array, offset: bigint): number {
    return this.traced({ call: "pwrite", fd }, () => {
      const f = this.file(fd, "pwrite");
      if (offset < 0n) throw new Errno("EINVAL", "negative offset", "pwrite");
      return f.pwrite(buf, offset);
    });
  }

  mmap(fd: number, length: number, prot: number, flags: number, offset: bigint): Mapping {
    if (!Number.isSafeInteger(length) || length <= 0) throw new Errno("EINVAL", `mmap length ${length} must be positive`, "mmap");
    if ((flags & (MMAP.MAP_SHARED | MMAP.MAP_PRIVATE)) === 0) throw new Errno("EINVAL", "mmap needs MAP_SHARED or MAP_PRIVATE", "mmap");
    if (offset % 4096n !== 0n) throw new Errno("EINVAL", `mmap offset 0x${offset.toString(16)} is not page aligned`, "mmap");
    if (flags & MMAP.MAP_ANONYMOUS) {
      if (fd !== -1) throw new Errno("EINVAL", "anonymous mmap takes fd -1", "mmap");
      const addr = this.user.mapAnonymous(length);
      const user = this.user;
      return {
        addr,
        length,
        read: (off, len) => user.copyFromUser(addr + BigInt(off), checkSpan(off, len, length), "mmap read"),
        write: (off, bytes) => user.copyToUser(addr + BigInt(off), bytes.subarray(0, checkSpan(off, bytes.byteLength, length)), "mmap write"),
      };
    }
    return this.file(fd, "mmap").mmap(length, prot, flags, offset);
  }

  munmap(mapping: Mapping): void {
    if (mapping.addr >= 0x1000_0000_0000n && mapping.addr < 0x7e00_0000_0000n) this.user.unmapAnonymous(mapping.addr);
  }

  eventfd(initval: number, flags = 0): number {
    if (!Number.isInteger(initval) || initval < 0 || initval > 0xffff_ffff) throw new Errno("EINVAL", `initval ${initval} is not an unsigned int`, "eventfd");
    if (flags & ~(EFD.EFD_CLOEXEC | EFD.EFD_NONBLOCK | EFD.EFD_SEMAPHORE)) throw new Errno("EINVAL", `unknown eventfd flags 0x${flags.toString(16)}`, "eventfd");
    return this.install(new EventFd(initval, flags));
  }

  poll(fds: readonly PollFd[], timeoutMs: number): PollResult[] {
    const check = (): PollResult[] =>
      fds
        .map(({ fd, events }) => {
          const f = this.fds.get(fd);
          return { fd, revents: f ? f.poll(events) : POLL.POLLNVAL };
        })
        .filter((r) => r.revents !== 0);
    let ready = check();
    if (ready.length || timeoutMs === 0) return ready;
    // Nothing ready: let simulated time run event by event until something is, or the timeout passes.
    const deadline = timeoutMs < 0 ? Number.POSITIVE_INFINITY : this.clock.now + timeoutMs * 1_000_000;
    for (;;) {
      const next = this.clock.nextTime;
      if (next === undefined || next > deadline) {
        if (Number.isFinite(deadline)) this.clock.runUntil(deadline);
        return check();
      }
      this.clock.runUntil(next);
      ready = check();
      if (ready.length) return ready;
    }
  }

  addressOf(buf: Uint8Array): bigint {
    return this.user.addressOf(buf);
  }

  readdir(path: string): string[] {
    return this.sysfs.readdir(path);
  }

  readlink(path: string): string {
    return this.sysfs.readlink(path);
  }

  readFile(path: string): string {
    return this.sysfs.readFile(path);
  }
}

function checkSpan(offset: number, length: number, size: number): number {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > size) throw new RangeError(`access [${offset}, ${offset + length}) is outside the ${size}-byte mapping`);
  return length;
}
