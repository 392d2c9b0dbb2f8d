/**
 * Pinning user memory for DMA: what MAP_DMA and IOAS_MAP do to a user range
 * before an IOMMU may point at it. Only anonymous mmap memory has host pages
 * behind it; a range may run across several adjacent anonymous mappings, as
 * a VMM's guest RAM often does, but every page of it must be mapped.
 */
import { Errno } from "../../uapi/index.js";
import type { UserAddressSpace } from "../user-memory.js";

const PAGE = 4096n;

/**
 * The host physical address behind [vaddr, vaddr+length), or EFAULT. The
 * emulated process keeps anonymous memory host-contiguous, so one address
 * describes the whole range once every page is known to be mapped.
 */
export function pinUserRange(user: UserAddressSpace, vaddr: bigint, length: bigint, syscall: string): number {
  if (length <= 0n) throw new Errno("EINVAL", "cannot pin an empty range", syscall);
  try {
    return user.hostAddress(vaddr, length, syscall);
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
  }
  // Not inside one mapping: accept it if consecutive mappings cover it with no gap.
  const start = user.hostAddress(vaddr, 1, syscall);
  let at = vaddr;
  const end = vaddr + length;
  while (at < end) {
    // the longest page-granular prefix from `at` that one mapping covers (binary search)
    let lo = 0n;
    let hi = (end - at + PAGE - 1n) / PAGE;
    while (lo < hi) {
      const mid = (lo + hi + 1n) / 2n;
      const span = minBig(mid * PAGE, end - at);
      if (ok(() => user.hostAddress(at, span, syscall))) lo = mid;
      else hi = mid - 1n;
    }
    if (lo === 0n) {
      throw new Errno("EFAULT", `user page 0x${at.toString(16)} of the range 0x${vaddr.toString(16)}+0x${length.toString(16)} is not anonymous memory this process mapped`, syscall);
    }
    const span = minBig(lo * PAGE, end - at);
    if (user.hostAddress(at, span, syscall) !== start + Number(at - vaddr)) {
      throw new Errno("EFAULT", `user range 0x${vaddr.toString(16)}+0x${length.toString(16)} is not host-contiguous`, syscall);
    }
    at += span;
  }
  return start;
}

function ok(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
