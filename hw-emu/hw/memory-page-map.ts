/**
 * Open-addressing hash map from page index (non-negative int32) to an int32 value.
 * Two flat Int32Arrays and no per-entry objects: a 1 TiB guest with millions of
 * touched pages costs 8 bytes per slot here, not a JS object per page.
 */

const EMPTY = -1;
/** returned by `get` when the key is absent (never a valid stored value) */
export const ABSENT = 0x7fffffff;
const GOLDEN = 0x9e3779b1 | 0;

export class PageMap {
  private keys: Int32Array;
  private vals: Int32Array;
  private bits: number;
  private count = 0;

  constructor(initialBits = 10) {
    this.bits = initialBits;
    this.keys = new Int32Array(1 << initialBits).fill(EMPTY);
    this.vals = new Int32Array(1 << initialBits);
  }

  get size(): number {
    return this.count;
  }

  /** bytes held by the table itself */
  get byteLength(): number {
    return this.keys.byteLength + this.vals.byteLength;
  }

  get(key: number): number {
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = Math.imul(key, GOLDEN) >>> (32 - this.bits);
    for (;;) {
      const k = keys[i]!;
      if (k === key) return this.vals[i]!;
      if (k === EMPTY) return ABSENT;
      i = (i + 1) & mask;
    }
  }

  set(key: number, value: number): void {
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = Math.imul(key, GOLDEN) >>> (32 - this.bits);
    for (;;) {
      const k = keys[i]!;
      if (k === key) {
        this.vals[i] = value;
        return;
      }
      if (k === EMPTY) break;
      i = (i + 1) & mask;
    }
    keys[i] = key;
    this.vals[i] = value;
    // keep the load at most 1/2 so probes stay short
    if (++this.count * 2 > keys.length) this.grow();
  }

  /** Calls `fn(key, value)` for every entry, in table order (deterministic for a given history). */
  forEach(fn: (key: number, value: number) => void): void {
    const keys = this.keys;
    const vals = this.vals;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k !== EMPTY) fn(k, vals[i]!);
    }
  }

  /** all keys in ascending order */
  sortedKeys(): Int32Array {
    const out = new Int32Array(this.count);
    const keys = this.keys;
    let j = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k !== EMPTY) out[j++] = k;
    }
    return out.sort();
  }

  private grow(): void {
    if (this.bits >= 30) throw new RangeError("guest memory: too many allocated pages (limit 2^29)");
    const oldKeys = this.keys;
    const oldVals = this.vals;
    this.bits++;
    this.keys = new Int32Array(1 << this.bits).fill(EMPTY);
    this.vals = new Int32Array(1 << this.bits);
    const keys = this.keys;
    const vals = this.vals;
    const mask = keys.length - 1;
    const shift = 32 - this.bits;
    for (let j = 0; j < oldKeys.length; j++) {
      const key = oldKeys[j]!;
      if (key === EMPTY) continue;
      let i = Math.imul(key, GOLDEN) >>> shift;
      while (keys[i] !== EMPTY) i = (i + 1) & mask;
      keys[i] = key;
      vals[i] = oldVals[j]!;
    }
  }
}
