/**
 * The VFIO type1 IOMMU backend of a container (Linux's vfio_iommu_type1): the
 * list of user DMA mappings, the IOMMU domains that mirror it, which groups are
 * attached, and the dirty-page bookkeeping of VFIO_IOMMU_DIRTY_PAGES.
 *
 * Domains: a group gets a domain on the IOMMU its devices sit behind (one per
 * IOMMU, shared by every group behind it). A group whose devices all pin what
 * they touch and none of which does DMA is an emulated-IOMMU group, as mdevs
 * are in Linux: it has no domain, and a container holding only such groups
 * neither pins nor maps anything.
 *
 * Dirty pages: type1 has no hardware dirty tracking. While any attached group
 * is not in pinned-page scope, every page of every mapping reads dirty on every
 * report. When all groups are in pinned scope, the report holds the pages the
 * devices touched; the emulator records those with the domain's dirty bits,
 * which its pinned-scope devices only set by writing through the container's
 * domain. Mappings made in pinned scope get 4 KiB leaves, so a bit is a page.
 */
import { Errno, VFIO_DMA_MAP_FLAG, VFIO_DMA_UNMAP_FLAG, VFIO_EXTENSION } from "../../uapi/index.js";
import { IOVA_LIMIT, PAGE_4K, PERM_READ, PERM_WRITE, type IoDomain, type Iommu } from "../../hw/iommu.js";
import { setBits } from "../../sim/bitmap.js";
import type { UserAddressSpace } from "../user-memory.js";
import { pinUserRange } from "../iommufd/pin.js";
import { viaIommu } from "../iommufd/iommu-errors.js";
import { DmaList, dmaEnd, type VfioDma } from "./type1-mappings.js";
import { DIRTY_BITMAP_PAGES_MAX, writeMappingBitmap } from "./type1-bitmap.js";

/** Linux's dma_entry_limit module parameter default: mappings per container */
export const DMA_ENTRY_LIMIT = 65535;
const U64_MAX = (1n << 64n) - 1n;
/** pgsize bitmap of a container with no IOMMU domain: every size from 4 KiB up (PAGE_MASK) */
const PAGE_MASK_64 = U64_MAX & ~0xfffn;
const X = VFIO_EXTENSION;

/** What the backend needs to know about an attached group. */
export interface Type1Group {
  readonly id: number;
  /** the IOMMU the group's devices sit behind */
  readonly iommu: Iommu;
  /** routing ids of the group's devices that do DMA */
  readonly requesterIds: readonly number[];
  /** every device of the group pins the pages it touches (emulated-IOMMU mdevs) */
  readonly pinnedScope: boolean;
}

interface DomainEntry {
  readonly iommu: Iommu;
  readonly domain: IoDomain;
  readonly groups: Set<Type1Group>;
}

export interface MapRequest {
  flags: number;
  vaddr: bigint;
  iova: bigint;
  size: bigint;
}

export interface UnmapRequest {
  flags: number;
  iova: bigint;
  size: bigint;
  /** the vfio_bitmap of an UNMAP_DMA with GET_DIRTY_BITMAP */
  bitmap: { pgsize: bigint; data: bigint } | null;
}

export interface IovaRange {
  start: bigint;
  end: bigint;
}

export class Type1Iommu {
  /** VFIO_TYPE1v2_IOMMU semantics (exact unmaps, dirty tracking) rather than the v1 ones */
  readonly v2: boolean;
  private readonly dmas = new DmaList();
  private readonly domains: DomainEntry[] = [];
  private readonly emulated = new Set<Type1Group>();
  private nonPinnedGroups = 0;
  private dmaAvail = DMA_ENTRY_LIMIT;
  private tracking = false;
  private domainSeq = 0;

  constructor(
    private readonly user: UserAddressSpace,
    type: number,
    syscall: string,
  ) {
    if (type !== X.VFIO_TYPE1_IOMMU && type !== X.VFIO_TYPE1v2_IOMMU) throw new Errno("EINVAL", `the type1 backend does not open IOMMU type ${type}`, syscall);
    this.v2 = type === X.VFIO_TYPE1v2_IOMMU;
  }

  /** VFIO_CHECK_EXTENSION as the type1 driver answers it; `iommu` is null before SET_IOMMU. */
  static checkExtension(iommu: Type1Iommu | null, ext: bigint): number {
    switch (ext) {
      case BigInt(X.VFIO_TYPE1_IOMMU):
      case BigInt(X.VFIO_TYPE1v2_IOMMU):
      case BigInt(X.VFIO_UNMAP_ALL):
        return 1;
      case BigInt(X.VFIO_UPDATE_VADDR):
        // refused while emulated-IOMMU devices could be pinning through a stale vaddr
        return iommu !== null && iommu.emulated.size === 0 ? 1 : 0;
      case BigInt(X.VFIO_DMA_CC_IOMMU):
        // the emulated IOMMU always enforces cache coherency
        return iommu !== null ? 1 : 0;
      default:
        return 0;
    }
  }

  // ---- state read by the ioctl layer ----

  /** page sizes every domain supports; PAGE_MASK with no domain */
  get pgsizeBitmap(): bigint {
    if (this.domains.length === 0) return PAGE_MASK_64;
    let bits = U64_MAX;
    for (const e of this.domains) bits &= e.domain.pageSizes.reduce((a, s) => a | BigInt(s), 0n);
    return bits;
  }

  /** the smallest supported page: the granule of mappings and dirty bitmaps */
  get minPageSize(): bigint {
    const b = this.pgsizeBitmap;
    return b & -b;
  }

  /** the usable IOVA ranges; empty (unrestricted, and no capability) when no domain exists */
  get iovaRanges(): IovaRange[] {
    return this.domains.length === 0 ? [] : [{ start: 0n, end: BigInt(IOVA_LIMIT) - 1n }];
  }

  get dmaAvailable(): number {
    return this.dmaAvail;
  }

  get dirtyTracking(): boolean {
    return this.tracking;
  }

  /** whether every page of every mapping will read dirty (a group outside pinned-page scope is attached) */
  get reportsEverything(): boolean {
    return this.nonPinnedGroups > 0;
  }

  hasGroup(g: Type1Group): boolean {
    return this.emulated.has(g) || this.domains.some((e) => e.groups.has(g));
  }

  // ---- groups ----

  attachGroup(g: Type1Group, syscall: string): void {
    if (this.hasGroup(g)) throw new Errno("EINVAL", `group ${g.id} is already attached`, syscall);
    if (g.pinnedScope && g.requesterIds.length === 0) {
      this.emulated.add(g);
      return;
    }
    let entry = this.domains.find((e) => e.iommu === g.iommu);
    if (!entry) entry = this.addDomain(g.iommu, this.nonPinnedGroups === 0 && g.pinnedScope, syscall);
    for (const rid of g.requesterIds) g.iommu.attach(rid, entry.domain);
    entry.groups.add(g);
    if (!g.pinnedScope) this.nonPinnedGroups++;
  }

  private addDomain(iommu: Iommu, pageLeaves: boolean, syscall: string): DomainEntry {
    for (const d of this.dmas.all()) {
      if (dmaEnd(d) > BigInt(IOVA_LIMIT)) {
        throw new Errno("EINVAL", `mapping 0x${d.iova.toString(16)}+0x${d.size.toString(16)} lies outside the IOMMU's ${Math.log2(IOVA_LIMIT)}-bit aperture`, syscall);
      }
    }
    const domain = viaIommu(syscall, () => iommu.createDomain({ dirtyTracking: true, name: `vfio-type1-${++this.domainSeq}` }));
    const pinnedHere: VfioDma[] = [];
    const mapped: VfioDma[] = [];
    try {
      // replay: the new domain mirrors every mapping; a container that had no domain pins now
      for (const d of this.dmas.all()) {
        if (d.host === null) {
          d.host = pinUserRange(this.user, d.vaddr, d.size, syscall);
          pinnedHere.push(d);
        }
        this.mapInto(domain, d, pageLeaves, syscall);
        mapped.push(d);
      }
    } catch (e) {
      for (const d of mapped) domain.unmap(Number(d.iova), Number(d.size));
      for (const d of pinnedHere) d.host = null;
      iommu.destroyDomain(domain);
      throw e;
    }
    if (this.tracking) domain.setDirtyTracking(true);
    const entry = { iommu, domain, groups: new Set<Type1Group>() };
    this.domains.push(entry);
    return entry;
  }

  detachGroup(g: Type1Group): void {
    if (this.emulated.delete(g)) {
      if (this.emulated.size === 0 && this.domains.length === 0) this.unmapAll();
      return;
    }
    const i = this.domains.findIndex((e) => e.groups.has(g));
    if (i < 0) return;
    const entry = this.domains[i]!;
    for (const rid of g.requesterIds) if (g.iommu.domainOf(rid) === entry.domain) g.iommu.detach(rid);
    entry.groups.delete(g);
    if (entry.groups.size === 0) {
      if (this.domains.length === 1) {
        // the last domain goes: without emulated groups the mappings go with it, else they stay unpinned
        if (this.emulated.size === 0) this.unmapAll();
        else for (const d of this.dmas.all()) this.unpin(d);
      }
      for (const d of this.dmas.all()) if (d.host !== null) entry.domain.unmap(Number(d.iova), Number(d.size));
      entry.iommu.destroyDomain(entry.domain);
      this.domains.splice(i, 1);
    }
    if (!g.pinnedScope) {
      this.nonPinnedGroups--;
      // the scope may have been promoted: the next report must not miss what the group dirtied
      if (this.tracking) for (const d of this.dmas.all()) d.reportAll = true;
    }
  }

  /** The container lost its last group: drop every mapping and domain. */
  release(): void {
    this.unmapAll();
    for (const e of this.domains) {
      for (const g of e.groups) for (const rid of g.requesterIds) if (e.iommu.domainOf(rid) === e.domain) e.iommu.detach(rid);
      e.iommu.destroyDomain(e.domain);
    }
    this.domains.length = 0;
    this.emulated.clear();
    this.nonPinnedGroups = 0;
  }

  // ---- mappings ----

  private iovaValid(start: bigint, last: bigint): boolean {
    const ranges = this.iovaRanges;
    return ranges.length === 0 || ranges.some((r) => start >= r.start && last <= r.end);
  }

  /** `pageLeaves`: pinned scope, one leaf per page so that a dirty bit names exactly one page */
  private mapInto(domain: IoDomain, d: VfioDma, pageLeaves: boolean, syscall: string): void {
    const options = pageLeaves ? { pageSize: PAGE_4K } : {};
    viaIommu(syscall, () => domain.map(Number(d.iova), d.host!, Number(d.size), d.perm, options));
  }

  private unpin(d: VfioDma): void {
    if (d.host === null) return;
    for (const e of this.domains) e.domain.unmap(Number(d.iova), Number(d.size));
    d.host = null;
  }

  private removeDma(d: VfioDma): void {
    this.unpin(d);
    this.dmas.remove(d);
    this.dmaAvail++;
  }

  private unmapAll(): void {
    for (const d of this.dmas.all()) this.removeDma(d);
  }

  mapDma(req: MapRequest, syscall: string): void {
    const { iova, size, vaddr } = req;
    const setVaddr = (req.flags & VFIO_DMA_MAP_FLAG.bits.VADDR) !== 0;
    let perm = 0;
    if (req.flags & VFIO_DMA_MAP_FLAG.bits.WRITE) perm |= PERM_WRITE;
    if (req.flags & VFIO_DMA_MAP_FLAG.bits.READ) perm |= PERM_READ;
    if (perm !== 0 && setVaddr) throw new Errno("EINVAL", "VADDR updates an existing mapping and takes no READ/WRITE", syscall);
    if (perm === 0 && !setVaddr) throw new Errno("EINVAL", "a mapping needs READ and/or WRITE", syscall);
    const pg = this.minPageSize;
    if (size === 0n) throw new Errno("EINVAL", "size is 0", syscall);
    if ((size | iova | vaddr) & (pg - 1n)) throw new Errno("EINVAL", `vaddr, iova and size must be multiples of the ${pg}-byte page`, syscall);
    if (iova + size - 1n > U64_MAX || vaddr + size - 1n > U64_MAX) throw new Errno("EINVAL", "the range wraps around the 64-bit space", syscall);
    const hit = this.dmas.find(iova, size);
    if (setVaddr) {
      if (!hit) throw new Errno("ENOENT", `no mapping at 0x${iova.toString(16)} to update`, syscall);
      if (!hit.vaddrInvalid || hit.iova !== iova || hit.size !== size) {
        throw new Errno("EINVAL", "VADDR must name exactly one mapping whose vaddr was invalidated by UNMAP_DMA(VADDR)", syscall);
      }
      hit.vaddr = vaddr;
      hit.vaddrInvalid = false;
      return;
    }
    if (hit) throw new Errno("EEXIST", `0x${iova.toString(16)}+0x${size.toString(16)} overlaps the mapping at 0x${hit.iova.toString(16)}`, syscall);
    if (this.dmaAvail === 0) throw new Errno("ENOSPC", `the container already holds ${DMA_ENTRY_LIMIT} mappings`, syscall);
    if (!this.iovaValid(iova, iova + size - 1n)) throw new Errno("EINVAL", `0x${iova.toString(16)}+0x${size.toString(16)} is outside the usable IOVA ranges`, syscall);
    if (this.tracking && size / pg > DIRTY_BITMAP_PAGES_MAX) throw new Errno("EINVAL", "too many pages for a dirty bitmap while tracking is on", syscall);
    const d: VfioDma = { iova, size, vaddr, host: null, perm, vaddrInvalid: false, reportAll: false };
    if (this.domains.length > 0) {
      d.host = pinUserRange(this.user, vaddr, size, syscall);
      const done: IoDomain[] = [];
      try {
        for (const e of this.domains) {
          this.mapInto(e.domain, d, this.nonPinnedGroups === 0, syscall);
          done.push(e.domain);
        }
      } catch (err) {
        for (const dom of done) dom.unmap(Number(iova), Number(size));
        throw err;
      }
    }
    this.dmas.insert(d);
    this.dmaAvail--;
  }

  /** v2 rule: [iova, iova+size) may not cut through a mapping */
  private checkWhole(iova: bigint, size: bigint, syscall: string): void {
    const first = this.dmas.at(iova);
    if (first && first.iova !== iova) throw new Errno("EINVAL", `0x${iova.toString(16)} is inside the mapping at 0x${first.iova.toString(16)}: v2 never splits a mapping`, syscall);
    const last = this.dmas.at(iova + size - 1n);
    if (last && dmaEnd(last) !== iova + size) {
      throw new Errno("EINVAL", `the range ends inside the mapping 0x${last.iova.toString(16)}+0x${last.size.toString(16)}: v2 never splits a mapping`, syscall);
    }
  }

  /** Returns the bytes unmapped (or whose vaddr was invalidated). */
  unmapDma(req: UnmapRequest, syscall: string): bigint {
    const F = VFIO_DMA_UNMAP_FLAG.bits;
    const all = (req.flags & F.ALL) !== 0;
    const invalidate = (req.flags & F.VADDR) !== 0;
    const bitmap = req.flags & F.GET_DIRTY_BITMAP ? req.bitmap : null;
    const { iova } = req;
    let size = req.size;
    if (invalidate && this.emulated.size > 0) throw new Errno("EBUSY", "vaddr updates are refused while emulated-IOMMU devices may pin pages", syscall);
    const pg = this.minPageSize;
    if (iova & (pg - 1n)) throw new Errno("EINVAL", `iova is not a multiple of the ${pg}-byte page`, syscall);
    if (all) {
      if (iova !== 0n || size !== 0n) throw new Errno("EINVAL", "UNMAP_ALL takes iova 0 and size 0", syscall);
      size = U64_MAX;
    } else if (size === 0n || size & (pg - 1n) || iova + size - 1n > U64_MAX) {
      throw new Errno("EINVAL", `size must be a non-zero multiple of the ${pg}-byte page that does not wrap`, syscall);
    }
    if (bitmap) {
      if (!this.tracking) throw new Errno("EINVAL", "GET_DIRTY_BITMAP needs dirty tracking started", syscall);
      if (bitmap.pgsize !== pg) throw new Errno("EINVAL", `bitmap.pgsize must be the smallest page size ${pg}`, syscall);
    }
    if (this.v2 && !all) this.checkWhole(iova, size, syscall);
    let unmapped = 0n;
    const invalidated: VfioDma[] = [];
    for (const d of this.dmas.overlapping(iova, size)) {
      // v1: a request starting inside a mapping unmaps nothing from it and stops
      if (!this.v2 && iova > d.iova) break;
      if (invalidate) {
        if (d.vaddrInvalid) {
          for (const x of invalidated) x.vaddrInvalid = false;
          throw new Errno("EINVAL", `the vaddr of the mapping at 0x${d.iova.toString(16)} is already invalid`, syscall);
        }
        d.vaddrInvalid = true;
        invalidated.push(d);
        unmapped += d.size;
        continue;
      }
      if (bitmap) this.reportDma(d, bitmap.data, iova, pg, syscall);
      unmapped += d.size;
      this.removeDma(d);
    }
    return unmapped;
  }

  // ---- dirty tracking ----

  startDirty(syscall: string): void {
    if (this.tracking) return;
    const pg = this.minPageSize;
    for (const d of this.dmas.all()) {
      if (d.size / pg > DIRTY_BITMAP_PAGES_MAX) throw new Errno("EINVAL", `the mapping at 0x${d.iova.toString(16)} has too many pages for a dirty bitmap`, syscall);
    }
    // enabling clears stale bits: the record starts now, as the kernel's fresh bitmaps do
    for (const e of this.domains) e.domain.setDirtyTracking(true);
    for (const d of this.dmas.all()) d.reportAll = false;
    this.tracking = true;
  }

  stopDirty(): void {
    if (!this.tracking) return;
    for (const e of this.domains) e.domain.setDirtyTracking(false);
    this.tracking = false;
  }

  /** GET_BITMAP after the ioctl layer's size checks: the range and page checks, then the report. */
  getDirtyBitmap(iova: bigint, size: bigint, pgsize: bigint, data: bigint, syscall: string): void {
    const pg = this.minPageSize;
    if (pgsize !== pg) throw new Errno("EINVAL", `bitmap.pgsize must be the smallest page size ${pg}`, syscall);
    if (iova & (pg - 1n)) throw new Errno("EINVAL", `iova is not a multiple of the ${pg}-byte page`, syscall);
    if (size === 0n || size & (pg - 1n)) throw new Errno("EINVAL", `size must be a non-zero multiple of ${pg}`, syscall);
    if (!this.tracking) throw new Errno("EINVAL", "dirty tracking is not started", syscall);
    this.checkWhole(iova, size, syscall);
    for (const d of this.dmas.overlapping(iova, size)) {
      if (d.iova < iova) continue;
      this.reportDma(d, data, iova, pg, syscall);
    }
  }

  /** Write one mapping's dirty bits to the user bitmap whose bit 0 is `base`, then reset its record. */
  private reportDma(d: VfioDma, data: bigint, base: bigint, pg: bigint, syscall: string): void {
    const nbits = Number(d.size / pg);
    const bits = new Uint32Array(Math.ceil(nbits / 32));
    if (d.host !== null) {
      for (const e of this.domains) e.domain.readDirty(Number(d.iova), Number(d.size), Number(pg), bits, { clear: true });
      if (this.nonPinnedGroups > 0) setBits(bits, 0, nbits);
    }
    if (d.reportAll) setBits(bits, 0, nbits);
    d.reportAll = false;
    writeMappingBitmap(this.user, data, Number((d.iova - base) / pg), bits, nbits, syscall);
  }
}
