/**
 * Linux errno values (x86-64, asm-generic/errno-base.h and errno.h) and the
 * error every layer throws when a system call fails.
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EMFILE: 24,
  ENOTTY: 25,
  ENOSPC: 28,
  ESPIPE: 29,
  ERANGE: 34,
  ENOMSG: 42,
  EOVERFLOW: 75,
  EBADFD: 77,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
} as const;

export type ErrnoName = keyof typeof ERRNO;

/** Short meanings, as strerror(3) gives them on glibc. */
const STRERROR: Record<ErrnoName, string> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  ESRCH: "No such process",
  EINTR: "Interrupted system call",
  EIO: "Input/output error",
  ENXIO: "No such device or address",
  E2BIG: "Argument list too long",
  EBADF: "Bad file descriptor",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EFAULT: "Bad address",
  EBUSY: "Device or resource busy",
  EEXIST: "File exists",
  ENODEV: "No such device",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  EMFILE: "Too many open files",
  ENOTTY: "Inappropriate ioctl for device",
  ENOSPC: "No space left on device",
  ESPIPE: "Illegal seek",
  ERANGE: "Numerical result out of range",
  ENOMSG: "No message of desired type",
  EOVERFLOW: "Value too large for defined data type",
  EBADFD: "File descriptor in bad state",
  EMSGSIZE: "Message too long",
  EOPNOTSUPP: "Operation not supported",
  EADDRINUSE: "Address already in use",
};

const BY_NUMBER = new Map<number, ErrnoName>(
  (Object.entries(ERRNO) as [ErrnoName, number][]).map(([name, n]) => [n, name]),
);

export function errnoName(errno: number): ErrnoName | undefined {
  return BY_NUMBER.get(errno);
}

export function strerror(code: ErrnoName | number): string {
  const name = typeof code === "number" ? BY_NUMBER.get(code) : code;
  return name ? STRERROR[name] : `Unknown error ${String(code)}`;
}

/**
 * A failed system call: what the kernel returns as -errno. `detail` says why,
 * in the emulator's words (a real kernel gives no reason; the native backend leaves it empty).
 */
export class Errno extends Error {
  override name = "Errno";
  readonly errno: number;
  readonly code: ErrnoName;

  constructor(
    code: ErrnoName,
    readonly detail = "",
    readonly syscall = "",
  ) {
    super(`${syscall ? syscall + ": " : ""}${code} (${strerror(code)})${detail ? ": " + detail : ""}`);
    this.code = code;
    this.errno = ERRNO[code];
  }

  /** Build from a raw errno number (as the native backend receives it). */
  static fromNumber(errno: number, syscall = "", detail = ""): Errno {
    const name = BY_NUMBER.get(errno);
    if (!name) {
      const e = new Errno("EINVAL", detail, syscall);
      Object.defineProperty(e, "errno", { value: errno });
      Object.defineProperty(e, "code", { value: `E${errno}` });
      e.message = `${syscall ? syscall + ": " : ""}errno ${errno}${detail ? ": " + detail : ""}`;
      return e;
    }
    return new Errno(name, detail, syscall);
  }
}

export function isErrno(err: unknown, code?: ErrnoName): err is Errno {
  return err instanceof Errno && (code === undefined || err.code === code);
}
