/** Struct-level ioctl calls: encode, call through the syscall interface, decode, name errors. */
import { IOCTL, type StructDef, type Syscalls } from "../../hw-emu/uapi/index.js";
import { sys } from "./errors.js";

export type IoctlName = keyof typeof IOCTL;

/**
 * Call an ioctl whose argument is one struct (plus optional trailing bytes);
 * returns the decoded struct as the kernel left it, the raw buffer and the return value.
 */
export function structIoctl<T extends Record<string, unknown>>(
  s: Syscalls,
  fd: number,
  name: IoctlName,
  def: StructDef<T>,
  value: Partial<T>,
  options: { totalSize?: number; label?: string; tail?: Uint8Array } = {},
): { out: T; buf: Uint8Array; ret: number } {
  const total = options.totalSize ?? def.size + (options.tail?.byteLength ?? 0);
  const buf = def.encode(value, { totalSize: total });
  if (options.tail) buf.set(options.tail, def.size);
  const ret = sys(options.label ?? name, () => s.ioctl(fd, IOCTL[name], buf));
  return { out: def.decode(buf, 0, { length: Math.min(buf.byteLength, def.size) }), buf, ret };
}

/** An ioctl that takes an integer argument (or none). */
export function intIoctl(s: Syscalls, fd: number, name: IoctlName, arg?: number | bigint): number {
  return sys(name, () => s.ioctl(fd, IOCTL[name], arg));
}
