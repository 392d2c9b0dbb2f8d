/**
 * The type1 backend's list of user DMA mappings (Linux's vfio_dma rb-tree), kept
 * as an array sorted by IOVA. A mapping is the unit MAP_DMA created; v2 unmap
 * and dirty-bitmap requests may only cover whole mappings.
 */

export interface VfioDma {
  readonly iova: bigint;
  readonly size: bigint;
  /** the process address it was mapped from (changes with VFIO_DMA_MAP_FLAG_VADDR) */
  vaddr: bigint;
  /** host physical address of the pinned pages, or null while no IOMMU domain needed them */
  host: number | null;
  /** PERM_READ | PERM_WRITE, from the device's point of view */
  readonly perm: number;
  /** between UNMAP_DMA(VADDR) and MAP_DMA(VADDR) */
  vaddrInvalid: boolean;
  /** report every page on the next bitmap read (the dirty scope was just promoted) */
  reportAll: boolean;
}

export function dmaEnd(d: VfioDma): bigint {
  return d.iova + d.size;
}

export class DmaList {
  private readonly list: VfioDma[] = [];

  get count(): number {
    return this.list.length;
  }

  /** mappings in IOVA order (a copy: callers may remove while iterating) */
  all(): VfioDma[] {
    return [...this.list];
  }

  /** index of the first mapping that ends after `iova` */
  private firstEndingAfter(iova: bigint): number {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (dmaEnd(this.list[mid]!) <= iova) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** a mapping that intersects [start, start+size) (size > 0), if any */
  find(start: bigint, size: bigint): VfioDma | undefined {
    const d = this.list[this.firstEndingAfter(start)];
    return d && d.iova < start + size ? d : undefined;
  }

  /** the mapping holding byte `iova`, if any */
  at(iova: bigint): VfioDma | undefined {
    return this.find(iova, 1n);
  }

  /** mappings that intersect [start, start+size), in IOVA order */
  overlapping(start: bigint, size: bigint): VfioDma[] {
    const out: VfioDma[] = [];
    const end = start + size;
    for (let i = this.firstEndingAfter(start); i < this.list.length && this.list[i]!.iova < end; i++) out.push(this.list[i]!);
    return out;
  }

  insert(d: VfioDma): void {
    this.list.splice(this.firstEndingAfter(d.iova), 0, d);
  }

  remove(d: VfioDma): void {
    const i = this.list.indexOf(d);
    if (i >= 0) this.list.splice(i, 1);
  }
}
