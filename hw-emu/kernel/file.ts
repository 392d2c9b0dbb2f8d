/**
 * An open file: what an fd refers to. Each kind of VFIO and iommufd fd is a
 * subclass; the defaults are the errnos Linux gives when a file has no such
 * operation (ioctl ENOTTY, read/write EINVAL, positioned I/O ESPIPE, mmap ENODEV).
 */
import { Errno, type FdKind, type Mapping } from "../uapi/index.js";

/** An ioctl argument as C passes it: an integer, or (for pointer arguments) the bytes it points to. */
export type IoctlArg = { kind: "int"; value: bigint } | { kind: "buf"; bytes: Uint8Array; addr: bigint };

export type FileKind = FdKind | "eventfd";

export abstract class KFile {
  abstract readonly kind: FileKind;
  /** what /proc/self/fd would show, for messages */
  abstract readonly label: string;
  /** number of fds referring to this file (dup is not modelled; the kernel keeps its own references) */
  closed = false;

  ioctl(_request: number, _arg: IoctlArg): number {
    throw new Errno("ENOTTY", `no ioctl handler on a ${this.kind} fd`, "ioctl");
  }
  read(_buf: Uint8Array): number {
    throw new Errno("EINVAL", `${this.label} cannot be read`, "read");
  }
  write(_buf: Uint8Array): number {
    throw new Errno("EINVAL", `${this.label} cannot be written`, "write");
  }
  pread(_buf: Uint8Array, _offset: bigint): number {
    throw new Errno("ESPIPE", `${this.label} is a stream: positioned reads are refused`, "pread");
  }
  pwrite(_buf: Uint8Array, _offset: bigint): number {
    throw new Errno("ESPIPE", `${this.label} is a stream: positioned writes are refused`, "pwrite");
  }
  mmap(_length: number, _prot: number, _flags: number, _offset: bigint): Mapping {
    throw new Errno("ENODEV", `${this.label} cannot be mapped`, "mmap");
  }
  /** current readiness as poll(2) revents for the requested events */
  poll(_events: number): number {
    return 0;
  }
  /** called when the last fd is closed */
  release(): void {}
}
