/**
 * IOMMU_HWPT_GET_DIRTY_BITMAP after its argument checks: walk the IOAS areas
 * from `iova` and set, in the user bitmap, bit n for every page
 * `iova + n * page_size` whose IO page table entry is dirty. Bits are only
 * ever set; the page size's lowest set bit is the granule, as the kernel's
 * bitmap iterator takes it.
 *
 * Linux discards the result of this walk, so none of its failures reach the
 * caller: with tracking off the driver refuses and nothing is reported; a hole
 * stops the walk (bits before it are reported); a user bitmap that cannot be
 * pinned stops it before anything is read or cleared. The ioctl returns 0 in
 * every such case, and so does the emulator.
 */
import type { IoDomain } from "../../hw/iommu.js";
import { PAGE_4K } from "../../hw/iommu.js";
import { forEachSetBit } from "../../hw/bitmap.js";
import { orBitmapToUser } from "../vfio/user-args.js";
import type { UserAddressSpace } from "../user-memory.js";
import type { IoasArea, IoasTable } from "./io-pagetable.js";

export interface DirtyRequest {
  iova: bigint;
  /** last byte of the range (iova + length - 1), already checked not to overflow */
  last: bigint;
  pageShift: number;
  /** user address of the bitmap (u64 words, any byte alignment) */
  data: bigint;
  clear: boolean;
}

const GRANULE = BigInt(PAGE_4K);

/** Bits of one area piece, relative to the piece start, at 4 KiB granularity or coarser. */
function pieceBits(domain: IoDomain, start: bigint, length: bigint, pageShift: number, clear: boolean): { bits: Uint32Array; nbits: number; exact: boolean } {
  const page = 1n << BigInt(pageShift);
  if (page >= GRANULE && start % page === 0n && length % page === 0n) {
    const nbits = Number(length / page);
    const bits = new Uint32Array(Math.ceil(nbits / 32));
    domain.readDirty(Number(start), Number(length), Number(page), bits, { clear });
    return { bits, nbits, exact: true };
  }
  const nbits = Number(length / GRANULE);
  const bits = new Uint32Array(Math.ceil(nbits / 32));
  domain.readDirty(Number(start), Number(length), PAGE_4K, bits, { clear });
  return { bits, nbits, exact: false };
}

/** OR `nbits` bits into the user bitmap at bit `offset` (bit 0 = the request's iova). */
function orAt(user: UserAddressSpace, data: bigint, offset: number, bits: Uint32Array, nbits: number, syscall: string): void {
  const word = Math.floor(offset / 32);
  const shift = offset % 32;
  const out = new Uint32Array(Math.ceil((nbits + shift) / 32));
  const n = Math.ceil(nbits / 32);
  for (let w = 0; w < n; w++) {
    const v = bits[w]!;
    if (v === 0) continue;
    out[w] = (out[w]! | (v << shift)) >>> 0;
    if (shift !== 0 && w + 1 < out.length) out[w + 1] = (out[w + 1]! | (v >>> (32 - shift))) >>> 0;
  }
  orBitmapToUser(user, data + BigInt(word) * 4n, out, out.length * 4, syscall);
}

function areaLast(a: IoasArea): bigint {
  return a.iova + a.length - 1n;
}

/** Report and (unless NO_CLEAR) clear the dirty pages of [iova, last]; never throws for walk failures. */
export function reportDirty(user: UserAddressSpace, table: IoasTable, domain: IoDomain, req: DirtyRequest, syscall: string): void {
  if (!domain.dirtyTracking) return;
  const totalBits = (req.last - req.iova + 1n) >> BigInt(req.pageShift);
  const bytes = Number(((totalBits + 63n) / 64n) * 8n);
  if (!user.accessible(req.data, bytes)) return;
  const shift = BigInt(req.pageShift);
  for (const a of table.contiguous(req.iova, req.last)) {
    const start = a.iova > req.iova ? a.iova : req.iova;
    const last = areaLast(a) < req.last ? areaLast(a) : req.last;
    const length = last - start + 1n;
    const { bits, nbits, exact } = pieceBits(domain, start, length, req.pageShift, req.clear);
    if (exact) {
      orAt(user, req.data, Number((start - req.iova) >> shift), bits, nbits, syscall);
      continue;
    }
    // granules finer or misaligned against the page size: each dirty 4 KiB granule sets the pages it overlaps
    const out = new Uint32Array(Math.ceil(Number(totalBits) / 32));
    let any = false;
    forEachSetBit(bits, (g) => {
      if (g >= nbits) return;
      const gStart = start + BigInt(g) * GRANULE - req.iova;
      const first = Number(gStart >> shift);
      const lastBit = Number((gStart + GRANULE - 1n) >> shift);
      for (let b = first; b <= lastBit && b < Number(totalBits); b++) out[b >>> 5] = (out[b >>> 5]! | (1 << (b & 31))) >>> 0;
      any = true;
    });
    if (any) orBitmapToUser(user, req.data, out, out.length * 4, syscall);
  }
}
