/**
 * The one door between userspace and a kernel: the system calls the VFIO uAPI
 * needs. The emulated kernel implements it, and so does the native backend over a
 * real Linux kernel, so the typed library above runs unchanged on both.
 *
 * Every call either returns or throws an Errno carrying Linux's name and number.
 * Calls are synchronous, as system calls are; time passes only in the emulator's
 * simulated clock.
 */

/** open(2) flags used here (x86-64 values). */
export const O_FLAGS = {
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
} as const;

/** mmap(2) protections and flags. */
export const MMAP = {
  PROT_NONE: 0,
  PROT_READ: 1,
  PROT_WRITE: 2,
  MAP_SHARED: 0x01,
  MAP_PRIVATE: 0x02,
  MAP_ANONYMOUS: 0x20,
  MAP_NORESERVE: 0x4000,
} as const;

/** poll(2) events. */
export const POLL = {
  POLLIN: 0x001,
  POLLPRI: 0x002,
  POLLOUT: 0x004,
  POLLERR: 0x008,
  POLLHUP: 0x010,
  POLLNVAL: 0x020,
  POLLRDHUP: 0x2000,
} as const;

/** eventfd(2) flags. */
export const EFD = {
  EFD_SEMAPHORE: 1,
  EFD_CLOEXEC: 0o2000000,
  EFD_NONBLOCK: 0o4000,
} as const;

/**
 * A mapping returned by mmap: the process's view of device memory (a BAR) or of
 * anonymous memory (guest RAM). `addr` is the user virtual address, usable in
 * struct fields such as vfio_iommu_type1_dma_map.vaddr and iommu_ioas_map.user_va.
 */
export interface Mapping {
  readonly addr: bigint;
  readonly length: number;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, bytes: Uint8Array): void;
}

export interface PollFd {
  fd: number;
  events: number;
}

export interface PollResult {
  fd: number;
  revents: number;
}

export interface Syscalls {
  /** open(2). Paths are /dev/vfio/vfio, /dev/vfio/N, /dev/vfio/devices/vfioN, /dev/iommu. Returns an fd. */
  open(path: string, flags?: number): number;
  close(fd: number): void;
  /**
   * ioctl(2). `arg` is the argument as C passes it: an integer for scalar
   * arguments, or the bytes a pointer argument points to (read and written in
   * place, like the struct in the caller's memory). Returns the ioctl's
   * non-negative return value.
   */
  ioctl(fd: number, request: number, arg?: number | bigint | Uint8Array): number;
  /** read(2) into buf; returns the number of bytes read (0 at end of stream). */
  read(fd: number, buf: Uint8Array): number;
  write(fd: number, buf: Uint8Array): number;
  pread(fd: number, buf: Uint8Array, offset: bigint): number;
  pwrite(fd: number, buf: Uint8Array, offset: bigint): number;
  /** mmap(2) of a region offset of a device fd, or anonymous memory with fd -1 and MAP_ANONYMOUS. */
  mmap(fd: number, length: number, prot: number, flags: number, offset: bigint): Mapping;
  munmap(mapping: Mapping): void;
  eventfd(initval: number, flags?: number): number;
  /** poll(2); returns only the entries with non-zero revents. timeoutMs -1 waits (in simulated time on the emulator). */
  poll(fds: readonly PollFd[], timeoutMs: number): PollResult[];
  /**
   * The user virtual address of a buffer, for struct fields that hold pointers
   * (bitmaps, range arrays, token UUIDs). The buffer must stay alive while the
   * kernel may use it.
   */
  addressOf(buf: Uint8Array): bigint;
  /** Directory listing under /sys or /dev (device discovery). */
  readdir(path: string): string[];
  /** Target of a symbolic link under /sys (e.g. a device's iommu_group or driver). */
  readlink(path: string): string;
  /** Contents of a small text file under /sys (vendor, device, class ...). */
  readFile(path: string): string;
}
