/**
 * An IOAS's software page table (Linux's io_pagetable): the areas user memory
 * is mapped at, the IOVA ranges reserved by the domains that mirror it, the
 * ranges userspace allowed for kernel-chosen IOVAs, and the mirroring of every
 * area into each attached IOMMU domain.
 *
 * IOVAs are u64 (bigint). A domain's aperture is the emulated IOMMU's 48-bit
 * space; attaching one reserves everything above it, as iommufd does for a
 * domain's geometry. The IOVA alignment is one 4 KiB page from the start (Linux
 * reports 1 until a domain is attached; the emulated IOAS may always be
 * mirrored into a 4 KiB-granular domain, so it never accepts less).
 */
import { Errno } from "../../uapi/index.js";
import { IOVA_LIMIT, PAGE_4K, type IoDomain } from "../../hw/iommu.js";
import { viaIommu } from "./iommu-errors.js";

export const ULONG_MAX = (1n << 64n) - 1n;
const PAGE = 4096n;

export interface IoasArea {
  readonly iova: bigint;
  readonly length: bigint;
  /** user address it was mapped from (the source of COPY pieces and of auto-IOVA alignment) */
  readonly uptr: bigint;
  /** host physical address of the pinned pages */
  readonly host: number;
  /** PERM_READ | PERM_WRITE */
  readonly perm: number;
}

export interface IovaSpan {
  start: bigint;
  last: bigint;
}

/** A run of memory to map: one source area's slice, or one user range. */
export interface MapPiece {
  uptr: bigint;
  length: bigint;
  /** pins the pages and gives their host address; called once the IOVA is settled */
  pin(): number;
}

interface Reserved extends IovaSpan {
  owner: object;
}

function areaLast(a: IoasArea): bigint {
  return a.iova + a.length - 1n;
}

function intersects(a: IovaSpan, start: bigint, last: bigint): boolean {
  return a.start <= last && start <= a.last;
}

function alignUp(x: bigint, a: bigint): bigint {
  return ((x + a - 1n) / a) * a;
}

function roundupPow2(x: bigint): bigint {
  let p = 1n;
  while (p < x) p <<= 1n;
  return p;
}

function lowBit(x: bigint): bigint {
  return x & -x;
}

export class IoasTable {
  readonly alignment = PAGE;
  private readonly areaList: IoasArea[] = [];
  private allowed: IovaSpan[] = [];
  private readonly reserved: Reserved[] = [];
  private readonly domains = new Set<IoDomain>();
  /** IOMMU_OPTION_HUGE_PAGES: map domains with large leaves where alignment allows */
  private largePages = true;

  get areas(): readonly IoasArea[] {
    return this.areaList;
  }

  get hugePages(): boolean {
    return this.largePages;
  }

  private firstAreaIn(start: bigint, last: bigint): IoasArea | undefined {
    return this.areaList.find((a) => a.iova <= last && start <= areaLast(a));
  }

  /** iopt_check_iova: a fixed IOVA must be aligned, not reserved and not mapped. */
  private checkFixed(iova: bigint, length: bigint, syscall: string): void {
    if (iova & (this.alignment - 1n)) throw new Errno("EINVAL", `iova 0x${iova.toString(16)} is not aligned to ${this.alignment}`, syscall);
    const last = iova + length - 1n;
    if (last > ULONG_MAX) throw new Errno("EOVERFLOW", "iova + length overflows", syscall);
    const r = this.reserved.find((x) => intersects(x, iova, last));
    if (r) throw new Errno("EINVAL", `0x${iova.toString(16)}+0x${length.toString(16)} overlaps the reserved range 0x${r.start.toString(16)}-0x${r.last.toString(16)}`, syscall);
    const a = this.firstAreaIn(iova, last);
    if (a) throw new Errno("EEXIST", `0x${iova.toString(16)}+0x${length.toString(16)} overlaps the area mapped at 0x${a.iova.toString(16)}`, syscall);
  }

  /** Gaps between reserved ranges and areas inside [start, last], ascending. */
  private holes(start: bigint, last: bigint): IovaSpan[] {
    const used = [...this.reserved, ...this.areaList.map((a) => ({ start: a.iova, last: areaLast(a) }))]
      .filter((u) => intersects(u, start, last))
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const out: IovaSpan[] = [];
    let at = start;
    for (const u of used) {
      if (u.start > at) out.push({ start: at, last: u.start - 1n });
      if (u.last >= at) at = u.last + 1n;
      if (at > last) return out;
    }
    if (at <= last) out.push({ start: at, last });
    return out;
  }

  /** iopt_alloc_iova: the first free, aligned IOVA in the allowed ranges (never 0). */
  private allocIova(uptr: bigint, length: bigint, syscall: string): bigint {
    if (length === 0n || length >= ULONG_MAX / 2n) throw new Errno("EOVERFLOW", `length 0x${length.toString(16)} cannot be placed`, syscall);
    // keep the user address's alignment so the domain can use large leaves
    let align = roundupPow2(length);
    if (uptr !== 0n && lowBit(uptr) < align) align = lowBit(uptr);
    if (align < this.alignment) throw new Errno("EINVAL", `the mapping's natural alignment ${align} is below the IOAS alignment ${this.alignment}`, syscall);
    const offset = uptr % PAGE;
    const bounds: IovaSpan = { start: PAGE, last: ULONG_MAX - PAGE };
    const spans = this.allowed.length === 0 ? [bounds] : this.allowed.filter((s) => intersects(s, bounds.start, bounds.last));
    for (const s of spans) {
      const sStart = alignUp(s.start > bounds.start ? s.start : bounds.start, align) | offset;
      const sLast = s.last < bounds.last ? s.last : bounds.last;
      if (sStart > sLast || sLast - sStart < length - 1n) continue;
      for (const h of this.holes(sStart, sLast)) {
        const start = alignUp(h.start, align) | offset;
        if (start <= h.last && h.last - start >= length - 1n) return start;
      }
    }
    throw new Errno("ENOSPC", `no free IOVA range of 0x${length.toString(16)} bytes`, syscall);
  }

  private mapOptions(): { pageSize?: number } {
    return this.largePages ? {} : { pageSize: PAGE_4K };
  }

  private fill(domain: IoDomain, a: IoasArea, syscall: string): void {
    viaIommu(syscall, () => domain.map(Number(a.iova), a.host, Number(a.length), a.perm, this.mapOptions()));
  }

  private unfill(domain: IoDomain, a: IoasArea): void {
    domain.unmap(Number(a.iova), Number(a.length));
  }

  private insertArea(a: IoasArea): void {
    const i = this.areaList.findIndex((x) => x.iova > a.iova);
    this.areaList.splice(i < 0 ? this.areaList.length : i, 0, a);
  }

  private removeArea(a: IoasArea): void {
    for (const d of this.domains) this.unfill(d, a);
    this.areaList.splice(this.areaList.indexOf(a), 1);
  }

  /**
   * Map pieces back to back at `fixedIova`, or at a kernel-chosen IOVA when it is
   * null; every mirroring domain gets them too. Returns the IOVA used.
   */
  map(pieces: readonly MapPiece[], perm: number, fixedIova: bigint | null, syscall: string): bigint {
    const length = pieces.reduce((n, p) => n + p.length, 0n);
    if (length === 0n || length & (this.alignment - 1n)) throw new Errno("EINVAL", `length 0x${length.toString(16)} must be a non-zero multiple of ${this.alignment}`, syscall);
    let iova: bigint;
    if (fixedIova === null) iova = this.allocIova(pieces[0]!.uptr, length, syscall);
    else {
      this.checkFixed(fixedIova, length, syscall);
      iova = fixedIova;
    }
    for (const p of pieces) {
      if ((p.uptr % PAGE) & (this.alignment - 1n)) throw new Errno("EINVAL", `user address 0x${p.uptr.toString(16)} is not aligned to ${this.alignment}`, syscall);
    }
    const created: IoasArea[] = [];
    let at = iova;
    for (const p of pieces) {
      created.push({ iova: at, length: p.length, uptr: p.uptr, host: p.pin(), perm });
      at += p.length;
    }
    const filled: [IoDomain, IoasArea][] = [];
    try {
      for (const d of this.domains) {
        for (const a of created) {
          this.fill(d, a, syscall);
          filled.push([d, a]);
        }
      }
    } catch (e) {
      for (const [d, a] of filled) this.unfill(d, a);
      throw e;
    }
    for (const a of created) this.insertArea(a);
    return iova;
  }

  /**
   * Unmap whole areas inside [iova, iova+length). A range cutting an area is
   * ENOENT (areas before it in the range are already gone, as in Linux); so is
   * a range with nothing in it. Returns the bytes unmapped.
   */
  unmap(iova: bigint, length: bigint, syscall: string): bigint {
    if (length === 0n) throw new Errno("EINVAL", "length is 0", syscall);
    const last = iova + length - 1n;
    if (last > ULONG_MAX) throw new Errno("EOVERFLOW", "iova + length overflows", syscall);
    let unmapped = 0n;
    for (;;) {
      const a = this.firstAreaIn(iova, last);
      if (!a) break;
      if (a.iova < iova || areaLast(a) > last) {
        throw new Errno("ENOENT", `the range cuts the area 0x${a.iova.toString(16)}+0x${a.length.toString(16)}: IOAS_UNMAP never splits an area`, syscall);
      }
      this.removeArea(a);
      unmapped += a.length;
    }
    if (unmapped === 0n) throw new Errno("ENOENT", `nothing is mapped in 0x${iova.toString(16)}+0x${length.toString(16)}`, syscall);
    return unmapped;
  }

  /** Unmap everything; an empty table is not an error. */
  unmapAll(): bigint {
    let n = 0n;
    for (const a of [...this.areaList]) {
      this.removeArea(a);
      n += a.length;
    }
    return n;
  }

  /**
   * The areas that map [iova, last] without a gap, starting with the one holding
   * `iova`; the walk stops at the first hole.
   */
  contiguous(iova: bigint, last: bigint): IoasArea[] {
    const out: IoasArea[] = [];
    let cur = iova;
    for (const a of this.areaList) {
      if (areaLast(a) < cur) continue;
      if (a.iova > cur) break;
      out.push(a);
      if (areaLast(a) >= last) break;
      cur = areaLast(a) + 1n;
    }
    return out;
  }

  /** iopt_get_pages: the pinned pieces behind [iova, iova+length), which must be fully mapped. */
  pieces(iova: bigint, length: bigint, syscall: string): MapPiece[] {
    if (length === 0n) throw new Errno("EINVAL", "length is 0", syscall);
    const last = iova + length - 1n;
    if (last > ULONG_MAX) throw new Errno("EOVERFLOW", "iova + length overflows", syscall);
    const out: MapPiece[] = [];
    let cur = iova;
    for (const a of this.contiguous(iova, last)) {
      const end = areaLast(a) < last ? areaLast(a) : last;
      const off = cur - a.iova;
      const host = a.host + Number(off);
      out.push({ uptr: a.uptr + off, length: end - cur + 1n, pin: () => host });
      cur = end + 1n;
    }
    if (cur <= last) throw new Errno("ENOENT", `0x${iova.toString(16)}+0x${length.toString(16)} is not fully mapped`, syscall);
    return out;
  }

  /** IOMMU_IOAS_IOVA_RANGES: the IOVA holes between reserved ranges. */
  iovaRanges(): IovaSpan[] {
    // only reserved ranges make holes here, not mappings
    const sorted = [...this.reserved].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const out: IovaSpan[] = [];
    let at = 0n;
    for (const r of sorted) {
      if (r.start > at) out.push({ start: at, last: r.start - 1n });
      if (r.last >= at) at = r.last + 1n;
      if (at > ULONG_MAX) return out;
    }
    if (at <= ULONG_MAX) out.push({ start: at, last: ULONG_MAX });
    return out;
  }

  /** IOMMU_IOAS_ALLOW_IOVAS: replace the allowed ranges (empty: everything). */
  setAllowed(ranges: readonly IovaSpan[], syscall: string): void {
    const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const [i, r] of sorted.entries()) {
      if (r.start >= r.last) throw new Errno("EINVAL", `allowed range 0x${r.start.toString(16)}-0x${r.last.toString(16)} is empty or reversed`, syscall);
      if (i > 0 && sorted[i - 1]!.last >= r.start) throw new Errno("EINVAL", "allowed ranges overlap", syscall);
    }
    for (const r of sorted) {
      if (this.reserved.some((x) => intersects(x, r.start, r.last))) {
        throw new Errno("EADDRINUSE", `allowed range 0x${r.start.toString(16)}-0x${r.last.toString(16)} overlaps a reserved range`, syscall);
      }
    }
    this.allowed = sorted;
  }

  /** A domain starts mirroring the table: everything above its aperture is reserved, every area mapped. */
  addDomain(domain: IoDomain, owner: object, syscall: string): void {
    const start = BigInt(IOVA_LIMIT);
    if (this.firstAreaIn(start, ULONG_MAX) || this.allowed.some((a) => intersects(a, start, ULONG_MAX))) {
      throw new Errno("EADDRINUSE", `the IOAS uses IOVAs above the IOMMU's ${Math.log2(IOVA_LIMIT)}-bit aperture`, syscall);
    }
    const filled: IoasArea[] = [];
    try {
      for (const a of this.areaList) {
        this.fill(domain, a, syscall);
        filled.push(a);
      }
    } catch (e) {
      for (const a of filled) this.unfill(domain, a);
      throw e;
    }
    this.reserved.push({ start, last: ULONG_MAX, owner });
    this.domains.add(domain);
  }

  removeDomain(domain: IoDomain, owner: object): void {
    if (!this.domains.delete(domain)) return;
    for (const a of this.areaList) this.unfill(domain, a);
    for (let i = this.reserved.length - 1; i >= 0; i--) if (this.reserved[i]!.owner === owner) this.reserved.splice(i, 1);
  }

  /** IOMMU_OPTION_HUGE_PAGES SET: turning large leaves off is refused once domains hold mappings. */
  setHugePages(on: boolean, syscall: string): void {
    if (!on && this.largePages && this.domains.size > 0 && this.areaList.length > 0) {
      throw new Errno("EINVAL", "huge pages cannot be disabled while domains already hold mappings", syscall);
    }
    this.largePages = on;
  }
}
