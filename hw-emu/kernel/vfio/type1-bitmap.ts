/**
 * The user dirty bitmaps of the type1 backend (VFIO_IOMMU_DIRTY_PAGES GET_BITMAP
 * and UNMAP_DMA with GET_DIRTY_BITMAP): size rules, and how each mapping's bits
 * reach the user buffer.
 *
 * Linux copies a mapping's bitmap out in whole u64 words. When the mapping's
 * first bit falls inside a word, that word is read back and ORed first, so
 * neighbouring mappings merge; every other word the mapping touches is
 * overwritten, including bits past the mapping's end in its last word. Bits of
 * words no mapping touches are left as the caller had them: callers zero the
 * buffer first.
 */
import { Errno } from "../../uapi/index.js";
import type { UserAddressSpace } from "../user-memory.js";

/** most pages one bitmap may describe: the kernel's bit helpers take an int */
export const DIRTY_BITMAP_PAGES_MAX = 0x7fff_ffffn;
/** 256 MiB: the bytes needed for DIRTY_BITMAP_PAGES_MAX bits, rounded to u64 words */
export const DIRTY_BITMAP_SIZE_MAX = dirtyBitmapBytes(DIRTY_BITMAP_PAGES_MAX);
/** x86-64 user address limit (4-level paging): access_ok() refuses ranges beyond it */
const TASK_SIZE = 0x7fff_ffff_f000n;

/** bytes of a bitmap holding `nbits` bits, in whole u64 words */
export function dirtyBitmapBytes(nbits: bigint): bigint {
  return ((nbits + 63n) / 64n) * 8n;
}


/** access_ok(): the range must lie in the user half of the address space */
export function checkUserRange(addr: bigint, size: bigint, what: string, syscall: string): void {
  if (size > TASK_SIZE || addr > TASK_SIZE - size) {
    throw new Errno("EINVAL", `${what} 0x${addr.toString(16)}+0x${size.toString(16)} is not a user address range`, syscall);
  }
}

/** The kernel's bitmap size rule: some pages, a non-empty buffer of at most 256 MiB that holds them all. */
export function verifyBitmapSize(npages: bigint, bitmapSize: bigint, syscall: string): void {
  if (npages === 0n) throw new Errno("EINVAL", "the range covers no pages", syscall);
  if (bitmapSize === 0n) throw new Errno("EINVAL", "bitmap.size is 0", syscall);
  if (bitmapSize > DIRTY_BITMAP_SIZE_MAX) throw new Errno("EINVAL", `bitmap.size ${bitmapSize} exceeds the ${DIRTY_BITMAP_SIZE_MAX}-byte maximum`, syscall);
  const need = dirtyBitmapBytes(npages);
  if (bitmapSize < need) throw new Errno("EINVAL", `bitmap.size ${bitmapSize} is below the ${need} bytes ${npages} pages need`, syscall);
}

/**
 * Copy one mapping's bits (`nbits` of them, bit 0 = the mapping's first page) to
 * the user bitmap at `data`, starting at bit `bitOffset` (the mapping's page
 * index relative to the request's iova). Word-granular, as described above.
 */
export function writeMappingBitmap(user: UserAddressSpace, data: bigint, bitOffset: number, bits: Uint32Array, nbits: number, syscall: string): void {
  const firstWord = Math.floor(bitOffset / 64);
  const shift = bitOffset % 64;
  const words64 = Math.ceil((nbits + shift) / 64);
  const out = new Uint32Array(words64 * 2);
  const srcWords = Math.ceil(nbits / 32);
  for (let w = 0; w < srcWords; w++) {
    let v = bits[w]!;
    if (w === srcWords - 1 && nbits % 32 !== 0) v = (v & (2 ** (nbits % 32) - 1)) >>> 0;
    if (v === 0) continue;
    const p = w * 32 + shift;
    const i = p >>> 5;
    const sub = p & 31;
    out[i] = (out[i]! | (v << sub)) >>> 0;
    if (sub !== 0 && i + 1 < out.length) out[i + 1] = (out[i + 1]! | (v >>> (32 - sub))) >>> 0;
  }
  const at = data + BigInt(firstWord) * 8n;
  if (shift !== 0) {
    const prev = user.copyFromUser(at, 8, syscall);
    const view = new DataView(prev.buffer, prev.byteOffset, 8);
    out[0] = (out[0]! | view.getUint32(0, true)) >>> 0;
    out[1] = (out[1]! | view.getUint32(4, true)) >>> 0;
  }
  const bytes = new Uint8Array(out.byteLength);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < out.length; i++) view.setUint32(i * 4, out[i]!, true);
  user.copyToUser(at, bytes, syscall);
}
