/**
 * The IOTLB: a small direct-mapped cache of recent translations, tagged by domain id. An
 * entry caches one whole leaf (4 KiB, 2 MiB or 1 GiB) in the slot chosen by hashing the
 * domain and the leaf number, so a lookup probes one slot per leaf size (deterministic).
 * Entries are only dropped by explicit invalidation, so a mapping removed without an
 * invalidation keeps translating: exactly the stale-IOTLB hazard of real hardware.
 */

const SIZES = [4096, 2 * 1024 * 1024, 1024 * 1024 * 1024] as const;

export interface IotlbStats {
  hits: number;
  misses: number;
  invalidations: number;
}

export class Iotlb {
  private readonly dom: Int32Array;
  private readonly base: Float64Array;
  private readonly size: Float64Array;
  private readonly gpa: Float64Array;
  private readonly perm: Uint8Array;
  private last = 0;
  readonly stats: IotlbStats = { hits: 0, misses: 0, invalidations: 0 };

  constructor(readonly entries: number) {
    if (!Number.isInteger(entries) || entries < 1) throw new RangeError("IOTLB needs at least one entry");
    this.dom = new Int32Array(entries).fill(-1);
    this.base = new Float64Array(entries);
    this.size = new Float64Array(entries);
    this.gpa = new Float64Array(entries);
    this.perm = new Uint8Array(entries);
  }

  /** Index of the entry caching `iova` for domain `domainId`, or -1. Counts a hit or miss. */
  lookup(domainId: number, iova: number): number {
    const l = this.last;
    if (this.dom[l] === domainId && iova >= this.base[l]! && iova < this.base[l]! + this.size[l]!) {
      this.stats.hits++;
      return l;
    }
    for (let k = 0; k < SIZES.length; k++) {
      const size = SIZES[k]!;
      const i = this.slot(domainId, Math.floor(iova / size));
      if (this.dom[i] === domainId && this.size[i] === size && iova >= this.base[i]! && iova < this.base[i]! + size) {
        this.stats.hits++;
        this.last = i;
        return i;
      }
    }
    this.stats.misses++;
    return -1;
  }

  private slot(domainId: number, leafNumber: number): number {
    const h = Math.imul((leafNumber | 0) ^ Math.imul(domainId, 0x27d4eb2f) ^ ((leafNumber / 4294967296) | 0), 0x9e3779b1);
    return (h >>> 0) % this.entries;
  }

  entryBase(i: number): number {
    return this.base[i]!;
  }
  entrySize(i: number): number {
    return this.size[i]!;
  }
  entryGpa(i: number): number {
    return this.gpa[i]!;
  }
  entryPerm(i: number): number {
    return this.perm[i]!;
  }

  insert(domainId: number, leafIova: number, leafSize: number, leafGpa: number, perm: number): number {
    const i = this.slot(domainId, Math.floor(leafIova / leafSize));
    this.dom[i] = domainId;
    this.base[i] = leafIova;
    this.size[i] = leafSize;
    this.gpa[i] = leafGpa;
    this.perm[i] = perm;
    this.last = i;
    return i;
  }

  /** Drop entries of `domainId` overlapping [start, end) (everything of the domain by default). */
  invalidate(domainId: number, start = 0, end = Infinity): void {
    this.stats.invalidations++;
    for (let i = 0; i < this.entries; i++) {
      if (this.dom[i] === domainId && this.base[i]! < end && this.base[i]! + this.size[i]! > start) this.dom[i] = -1;
    }
  }

  /** Drop every entry. */
  flush(): void {
    this.stats.invalidations++;
    this.dom.fill(-1);
  }

  /** number of valid entries (for observation) */
  get occupied(): number {
    let n = 0;
    for (let i = 0; i < this.entries; i++) if (this.dom[i] !== -1) n++;
    return n;
  }
}
