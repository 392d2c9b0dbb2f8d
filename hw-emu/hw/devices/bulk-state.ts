/**
 * The bulk of a large device state (flow tables, queue contexts, caches):
 * hundreds of MiB that must be streamed during migration but need no real
 * memory. Each 4 KiB page's content is a pure function of (seed, page index,
 * page version); changing a page bumps its version. So the whole state is
 * the seed plus one u32 per page, and a receiver can check every page it is
 * sent by regenerating it.
 */
export const BULK_PAGE_SIZE = 4096;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Fills out[offset .. offset+length) with page `index` at `version` for `seed`. */
export function generateBulkPage(seed: number, index: number, version: number, out: Uint8Array, offset: number, length: number): void {
  let x = fmix32((seed ^ fmix32(index + 0x9e3779b9) ^ Math.imul(version + 1, 0x27d4eb2f)) >>> 0) || 0x6d2b79f5;
  const start = out.byteOffset + offset;
  let i = 0;
  if (LITTLE_ENDIAN && start % 4 === 0) {
    // Fast path: whole words straight into the buffer (the byte order is little-endian either way).
    const words = new Uint32Array(out.buffer, start, length >>> 2);
    for (let w = 0; w < words.length; w++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[w] = x;
    }
    i = words.length * 4;
  }
  const view = new DataView(out.buffer, start, length);
  for (; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    view.setUint32(i, x >>> 0, true);
  }
  for (; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    view.setUint8(i, x & 0xff);
  }
}

export class BulkState {
  readonly size: number;
  readonly pages: number;
  readonly seed: number;
  private readonly versions: Uint32Array;
  private readonly listeners = new Set<(page: number) => void>();

  /** `seed` is a u32; `versions` (one per page) defaults to all zero. */
  constructor(size: number, seed: number, versions?: Uint32Array) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bulk state size ${size}`);
    this.size = size;
    this.pages = Math.ceil(size / BULK_PAGE_SIZE);
    this.seed = seed >>> 0;
    if (versions && versions.length !== this.pages) throw new RangeError(`expected ${this.pages} page versions, got ${versions.length}`);
    this.versions = versions ? versions.slice() : new Uint32Array(this.pages);
  }

  pageLength(index: number): number {
    return Math.min(BULK_PAGE_SIZE, this.size - index * BULK_PAGE_SIZE);
  }

  version(index: number): number {
    return this.versions[index]!;
  }

  /** Writes page `index` (current version) into out[offset..]. */
  fillPage(index: number, out: Uint8Array, offset = 0): void {
    generateBulkPage(this.seed, index, this.versions[index]!, out, offset, this.pageLength(index));
  }

  /** The state changed in page `index`. */
  touch(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pages) throw new RangeError(`bulk page ${index} not in 0..${this.pages - 1}`);
    this.versions[index] = (this.versions[index]! + 1) >>> 0;
    for (const l of this.listeners) l(index);
  }

  /** Told of every touched page (e.g. a pre-copy session's dirty tracking). */
  onTouch(listener: (page: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  versionsCopy(): Uint32Array {
    return this.versions.slice();
  }

  /** Sets every page version at once (loading a snapshot). */
  setVersions(versions: Uint32Array): void {
    if (versions.length !== this.pages) throw new RangeError(`expected ${this.pages} page versions, got ${versions.length}`);
    this.versions.set(versions);
  }

  /** Short fingerprint of the whole bulk state. */
  digest(): number {
    let h = fmix32(this.seed ^ this.size);
    for (let i = 0; i < this.pages; i++) h = fmix32((h ^ Math.imul(this.versions[i]! + 1, 0x9e3779b1) ^ i) >>> 0);
    return h;
  }
}
