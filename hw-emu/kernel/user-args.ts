/** Reading and writing ioctl arguments and the user memory their pointers name. */
import { Errno, type StructDef, copyInArgsz } from "../uapi/index.js";
import type { IoctlArg } from "./file.js";
import type { UserAddressSpace } from "./user-memory.js";

/**
 * The bytes a pointer argument refers to, as a live view the handler reads and
 * writes in place. A buffer argument is used as is; an integer is taken as a
 * user address (as C would pass it) and must name a buffer registered with
 * addressOf(), else EFAULT.
 */
export function argBytes(user: UserAddressSpace, arg: IoctlArg, needed: number, syscall: string): Uint8Array {
  if (arg.kind === "buf") {
    if (arg.bytes.byteLength < needed) throw new Errno("EFAULT", `the argument buffer has ${arg.bytes.byteLength} bytes, ${needed} are read`, syscall);
    return arg.bytes;
  }
  if (arg.value === 0n) throw new Errno("EFAULT", "NULL argument pointer", syscall);
  const view = user.bufferAt(arg.value, needed);
  if (!view) throw new Errno("EFAULT", `argument pointer 0x${arg.value.toString(16)} does not name ${needed} bytes of a registered buffer`, syscall);
  // the whole registered buffer from that address on, so argsz beyond `needed` is visible too
  return user.bufferTail(arg.value)!;
}

/** Copy in a VFIO struct with the argsz rule; returns the value, the declared argsz and the raw bytes. */
export function copyInVfio<T extends Record<string, unknown>>(
  user: UserAddressSpace,
  def: StructDef<T>,
  arg: IoctlArg,
  syscall: string,
): { value: T; argsz: number; bytes: Uint8Array } {
  const bytes = argBytes(user, arg, Math.min(def.minsz, 4), syscall);
  const { value, argsz } = copyInArgsz(def, bytes, syscall);
  return { value, argsz, bytes };
}

/**
 * The caller's bitmap at [addr, addr+byteLength) as a live Uint32Array, when it is a
 * registered buffer whose bytes start 4-byte aligned (else undefined: use the copying path).
 * The kernel only ever sets bits in a user bitmap, so ORing into this view is the same as
 * OR-ing into a copy and writing the copy back, without the two copies.
 */
export function userBitmapWords(user: UserAddressSpace, addr: bigint, byteLength: number): Uint32Array | undefined {
  if (byteLength % 4 !== 0) return undefined;
  const view = user.bufferAt(addr, byteLength);
  if (!view || view.byteOffset % 4 !== 0) return undefined;
  return new Uint32Array(view.buffer, view.byteOffset, byteLength >>> 2);
}

/** 64-bit little-endian bitmap words: OR `bits` (32-bit words) into user memory at `addr`, never clearing a bit. */
export function orBitmapToUser(user: UserAddressSpace, addr: bigint, bits: Uint32Array, byteLength: number, syscall: string): void {
  const words = Math.min(bits.length, byteLength >>> 2);
  const direct = userBitmapWords(user, addr, byteLength);
  if (direct) {
    for (let i = 0; i < words; i++) {
      const w = bits[i]!;
      if (w !== 0) direct[i] = direct[i]! | w;
    }
    return;
  }
  const current = user.copyFromUser(addr, byteLength, syscall);
  const view = new DataView(current.buffer, current.byteOffset, current.byteLength);
  let changed = false;
  for (let i = 0; i < words; i++) {
    const w = bits[i]!;
    if (w === 0) continue;
    view.setUint32(i * 4, (view.getUint32(i * 4, true) | w) >>> 0, true);
    changed = true;
  }
  if (changed) user.copyToUser(addr, current, syscall);
}
