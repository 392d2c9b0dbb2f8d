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
import { forEachSetBit } from "../../sim/bitmap.js";
import { orBitmapToUser, userBitmapWords } from "../user-args.js";
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

/**
 * OR `nbits` bits into the user bitmap at bit `offset` (bit 0 = the request's iova): straight
 * into the caller's words when `direct` is given, else through a copy.
 */
function orAt(user: UserAddressSpace, direct: Uint32Array | undefined, data: bigint, offset: number, bits: Uint32Array, nbits: number, syscall: string): void {
  const word = Math.floor(offset / 32);
  const shift = offset % 32;
  const outWords = Math.ceil((nbits + shift) / 32);
  const out = direct ? direct.subarray(word, word + outWords) : new Uint32Array(outWords);
  const n = Math.ceil(nbits / 32);
  for (let w = 0; w < n; w++) {
    const v = bits[w]!;
    if (v === 0) continue;
    out[w] = out[w]! | (v << shift);
    if (shift !== 0 && w + 1 < outWords) out[w + 1] = out[w + 1]! | (v >>> (32 - shift));
  }
  if (!direct) orBitmapToUser(user, data + BigInt(word) * 4n, out, outWords * 4, syscall);
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
  // the kernel only sets bits, so a registered, word-aligned caller bitmap is filled in place
  const direct = userBitmapWords(user, req.data, bytes);
  const shift = BigInt(req.pageShift);
  const page = 1n << shift;
  const nTotal = Number(totalBits);
  for (const a of table.contiguous(req.iova, req.last)) {
    const start = a.iova > req.iova ? a.iova : req.iova;
    const last = areaLast(a) < req.last ? areaLast(a) : req.last;
    const length = last - start + 1n;
    if (page >= GRANULE && start % page === 0n && length % page === 0n) {
      // whole pages of at least one granule: the domain reports at the page size itself
      const offset = Number((start - req.iova) >> shift);
      const nbits = Number(length >> shift);
      if (direct && offset % 32 === 0) {
        domain.readDirty(Number(start), Number(length), Number(page), direct.subarray(offset / 32), { clear: req.clear });
        continue;
      }
      const bits = new Uint32Array(Math.ceil(nbits / 32));
      domain.readDirty(Number(start), Number(length), Number(page), bits, { clear: req.clear });
      orAt(user, direct, req.data, offset, bits, nbits, syscall);
      continue;
    }
    // granules finer or misaligned against the page size: each dirty 4 KiB granule sets the pages it overlaps
    const nbits = Number(length / GRANULE);
    const bits = new Uint32Array(Math.ceil(nbits / 32));
    domain.readDirty(Number(start), Number(length), PAGE_4K, bits, { clear: req.clear });
    const out = direct ?? new Uint32Array(Math.ceil(nTotal / 32));
    // IOVAs are below the 48-bit aperture, so byte offsets are exact as Numbers
    const base = Number(start - req.iova);
    const pageBytes = 2 ** req.pageShift;
    let any = false;
    forEachSetBit(bits, (g) => {
      if (g >= nbits) return;
      const gStart = base + g * PAGE_4K;
      const first = Math.floor(gStart / pageBytes);
      const lastBit = Math.floor((gStart + PAGE_4K - 1) / pageBytes);
      for (let b = first; b <= lastBit && b < nTotal; b++) out[b >>> 5] = (out[b >>> 5]! | (1 << (b & 31))) >>> 0;
      any = true;
    });
    if (any && !direct) orBitmapToUser(user, req.data, out, out.length * 4, syscall);
  }
}
