/**
 * How the kernel reads an ioctl argument whose first u32 says how long it is.
 * Both rules are ABI: userspace built against an older or newer header must get
 * exactly these answers.
 */
import { Errno } from "./errno.js";
import type { StructDef } from "./struct.js";

function readU32(buf: Uint8Array, off: number): number {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(off, true);
}

/**
 * VFIO's argsz rule: the caller's argsz must cover at least `minsz` bytes (else
 * EINVAL); anything past what the kernel knows is ignored. Returns the decoded
 * struct and the argsz the caller declared.
 */
export function copyInArgsz<T extends Record<string, unknown>>(
  def: StructDef<T>,
  arg: Uint8Array,
  syscall: string,
  minsz: number = def.minsz,
): { value: T; argsz: number } {
  if (arg.byteLength < minsz) throw new Errno("EFAULT", `${def.name}: the argument buffer has ${arg.byteLength} bytes, the kernel copies ${minsz}`, syscall);
  const argsz = readU32(arg, 0);
  if (argsz < minsz) throw new Errno("EINVAL", `${def.name}.argsz is ${argsz}, below the minimum ${minsz}`, syscall);
  return { value: def.decode(arg, 0, { length: Math.min(argsz, def.size, arg.byteLength) }), argsz };
}

/**
 * iommufd's size rule: size below the command's minimum is EINVAL; a caller that
 * passes a larger struct than the kernel knows must have zeroed the extra bytes,
 * or it gets E2BIG (so old kernels can refuse fields they do not understand).
 */
export function copyInSize<T extends Record<string, unknown>>(def: StructDef<T>, arg: Uint8Array, syscall: string): { value: T; size: number } {
  if (arg.byteLength < 4) throw new Errno("EFAULT", `${def.name}: cannot read size from a ${arg.byteLength}-byte buffer`, syscall);
  const size = readU32(arg, 0);
  if (size < def.minsz) throw new Errno("EINVAL", `${def.name}.size is ${size}, below the minimum ${def.minsz}`, syscall);
  if (arg.byteLength < size) throw new Errno("EFAULT", `${def.name}.size is ${size} but the buffer has ${arg.byteLength} bytes`, syscall);
  for (let i = def.size; i < size; i++) {
    if (arg[i] !== 0) throw new Errno("E2BIG", `${def.name}: byte ${i} past the kernel's ${def.size}-byte struct is not zero`, syscall);
  }
  return { value: def.decode(arg, 0, { length: Math.min(size, def.size) }), size };
}

/** Write a struct back into the caller's buffer, never past the bytes the caller declared. */
export function copyOut<T extends Record<string, unknown>>(def: StructDef<T>, arg: Uint8Array, value: Partial<T>, limit: number): void {
  const full = def.encode({ ...value } as Partial<T>);
  arg.set(full.subarray(0, Math.min(limit, full.byteLength, arg.byteLength)), 0);
}
