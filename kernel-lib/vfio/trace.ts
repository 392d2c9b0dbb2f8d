/**
 * A syscall recorder: wraps a backend's Syscalls and keeps a copy of every ioctl
 * argument as it went into the kernel and as the kernel left it, and the outcome
 * of every read and write. Notebooks draw the recorded bytes (byteMap) to show
 * exactly what the library handed the kernel; it works the same over the emulator
 * and a real /dev/vfio, since it sees only the syscall door.
 */
import { Errno, IOCTL_DEFS, type Mapping, type PollFd, type PollResult, type Syscalls } from "../../hw-emu/uapi/index.js";

/** One ioctl as it was issued. */
export interface IoctlRecord {
  call: "ioctl";
  fd: number;
  request: number;
  /** the kernel names of this request number (one number can name several ioctls on different kinds of fd) */
  names: string[];
  /** the argument: a copy of the bytes before the call, or the integer argument */
  argIn: Uint8Array | number | bigint | undefined;
  /** a copy of the argument bytes after the call (null for an integer argument) */
  argOut: Uint8Array | null;
  /** the return value, or null when the call failed */
  result: number | null;
  /** the errno name when the call failed */
  errno: string | null;
}

/** One read, write, pread or pwrite. */
export interface IoRecord {
  call: "read" | "write" | "pread" | "pwrite";
  fd: number;
  /** bytes asked for (read) or offered (write) */
  length: number;
  result: number | null;
  errno: string | null;
}

export type SyscallRecord = IoctlRecord | IoRecord;

const NAMES = new Map<number, string[]>();
for (const d of IOCTL_DEFS) NAMES.set(d.request, [...(NAMES.get(d.request) ?? []), d.name]);

function outcome<T>(fn: () => T, done: (result: T | null, errno: string | null) => void): T {
  let result: T;
  try {
    result = fn();
  } catch (e) {
    done(null, e instanceof Errno ? e.code : null);
    throw e;
  }
  done(result, null);
  return result;
}

/** Syscalls that pass through to `inner` and record ioctls and data I/O in `records`. */
export class SyscallTrace implements Syscalls {
  readonly records: SyscallRecord[] = [];

  constructor(readonly inner: Syscalls) {}

  /** The recorded ioctls, optionally only those one of whose names is `name`. */
  ioctls(name?: string): IoctlRecord[] {
    return this.records.filter((r): r is IoctlRecord => r.call === "ioctl" && (name === undefined || r.names.includes(name)));
  }

  /** Forget what was recorded so far. */
  clear(): void {
    this.records.length = 0;
  }

  ioctl(fd: number, request: number, arg?: number | bigint | Uint8Array): number {
    const argIn = arg instanceof Uint8Array ? arg.slice() : arg;
    return outcome(
      () => this.inner.ioctl(fd, request, arg),
      (result, errno) =>
        this.records.push({ call: "ioctl", fd, request, names: NAMES.get(request) ?? [], argIn, argOut: arg instanceof Uint8Array ? arg.slice() : null, result, errno }),
    );
  }

  read(fd: number, buf: Uint8Array): number {
    return outcome(
      () => this.inner.read(fd, buf),
      (result, errno) => this.records.push({ call: "read", fd, length: buf.byteLength, result, errno }),
    );
  }

  write(fd: number, buf: Uint8Array): number {
    return outcome(
      () => this.inner.write(fd, buf),
      (result, errno) => this.records.push({ call: "write", fd, length: buf.byteLength, result, errno }),
    );
  }

  pread(fd: number, buf: Uint8Array, offset: bigint): number {
    return outcome(
      () => this.inner.pread(fd, buf, offset),
      (result, errno) => this.records.push({ call: "pread", fd, length: buf.byteLength, result, errno }),
    );
  }

  pwrite(fd: number, buf: Uint8Array, offset: bigint): number {
    return outcome(
      () => this.inner.pwrite(fd, buf, offset),
      (result, errno) => this.records.push({ call: "pwrite", fd, length: buf.byteLength, result, errno }),
    );
  }

  open(path: string, flags?: number): number {
    return this.inner.open(path, flags);
  }

  close(fd: number): void {
    this.inner.close(fd);
  }

  mmap(fd: number, length: number, prot: number, flags: number, offset: bigint): Mapping {
    return this.inner.mmap(fd, length, prot, flags, offset);
  }

  munmap(mapping: Mapping): void {
    this.inner.munmap(mapping);
  }

  eventfd(initval: number, flags?: number): number {
    return this.inner.eventfd(initval, flags);
  }

  poll(fds: readonly PollFd[], timeoutMs: number): PollResult[] {
    return this.inner.poll(fds, timeoutMs);
  }

  addressOf(buf: Uint8Array): bigint {
    return this.inner.addressOf(buf);
  }

  readdir(path: string): string[] {
    return this.inner.readdir(path);
  }

  readlink(path: string): string {
    return this.inner.readlink(path);
  }

  readFile(path: string): string {
    return this.inner.readFile(path);
  }
}

/** Record the ioctls and data I/O made through `s`; use the returned Syscalls in its place. */
export function traceSyscalls(s: Syscalls): SyscallTrace {
  return new SyscallTrace(s);
}
