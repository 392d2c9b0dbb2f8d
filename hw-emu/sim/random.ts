/**
 * Seeded randomness: sfc32 (Chris Doty-Humphrey's Small Fast Counter, 32-bit variant),
 * seeded from a number through splitmix32. Every simulated random choice comes from one
 * of these, so a seed fixes a whole run.
 */

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const TWO_32 = 4294967296;

export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` is any safe integer (its low 53 bits are used). */
  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    const st = { s: (seed >>> 0) ^ Math.imul(Math.floor(seed / TWO_32) | 0, 0x27d4eb2f) };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = 1; // sfc32's counter
    // discard the first outputs, as the generator's author recommends
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** next uniformly distributed unsigned 32-bit integer */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** uniform float in [0, 1) with 53 bits of precision */
  float(): number {
    const hi = this.u32() >>> 5; // 27 bits
    const lo = this.u32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** uniform integer in [min, max] (both inclusive, safe integers), without modulo bias */
  int(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min) {
      throw new RangeError(`int(${min}, ${max}): need safe integers with min <= max`);
    }
    const span = max - min + 1;
    if (span <= TWO_32) {
      // rejection sampling keeps every value equally likely
      const limit = TWO_32 - (TWO_32 % span);
      let x: number;
      do x = this.u32();
      while (x >= limit);
      return min + (x % span);
    }
    let x: number;
    const limit = 9007199254740992 - (9007199254740992 % span);
    do x = (this.u32() >>> 5) * 67108864 + (this.u32() >>> 6);
    while (x >= limit);
    return min + (x % span);
  }

  /** true with probability p */
  bool(p = 0.5): boolean {
    return this.float() < p;
  }

  /** exponentially distributed value with the given mean (for Poisson arrivals) */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  /** one element of a non-empty array */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty array");
    return items[this.int(0, items.length - 1)]!;
  }

  /** shuffle in place (Fisher–Yates) and return the same array */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** fill `out` with random bytes */
  bytes(out: Uint8Array): Uint8Array {
    let i = 0;
    for (; i + 4 <= out.length; i += 4) {
      const x = this.u32();
      out[i] = x;
      out[i + 1] = x >>> 8;
      out[i + 2] = x >>> 16;
      out[i + 3] = x >>> 24;
    }
    if (i < out.length) {
      let x = this.u32();
      for (; i < out.length; i++, x >>>= 8) out[i] = x;
    }
    return out;
  }

  /**
   * An independent stream derived from this one, so a component can own its randomness
   * without changing the draws of the others when it is added or removed.
   */
  fork(): Random {
    return new Random(((this.u32() & 0x1fffff) * TWO_32) + this.u32());
  }
}
