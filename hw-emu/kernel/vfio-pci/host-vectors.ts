/**
 * The host's interrupt vectors, as the x86 vector allocator hands them out to
 * pci_alloc_irq_vectors(). A pool can be shared by several devices so a lab
 * can exhaust it and watch SET_IRQS answer with the smaller count it could get.
 *
 * Messages follow the x86 format: address 0xFEE00000 (local APIC, CPU 0),
 * data = the vector number.
 */
import { Errno } from "../../uapi/index.js";

/** x86 MSI message address for destination CPU 0 */
export const HOST_MSI_ADDRESS = 0xfee0_0000n;
/** vectors below this are reserved for exceptions */
const FIRST_DEVICE_VECTOR = 0x20;

export interface HostVectorPoolOptions {
  /** how many vectors devices may take in total (default 224: 0x20..0xFF) */
  capacity?: number;
}

export class HostVectorPool {
  readonly capacity: number;
  private readonly used: boolean[];

  constructor(opts: HostVectorPoolOptions = {}) {
    const capacity = opts.capacity ?? 0x100 - FIRST_DEVICE_VECTOR;
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > 4096) throw new RangeError(`vector capacity ${capacity} not in 0..4096`);
    this.capacity = capacity;
    this.used = new Array<boolean>(capacity).fill(false);
  }

  /** vectors still free */
  get available(): number {
    return this.used.reduce((n, u) => (u ? n : n + 1), 0);
  }

  /**
   * Take `count` vectors, lowest first; with `aligned` (multi-message MSI) they
   * form one block aligned to the next power of two, as the MSI data encoding
   * requires. Returns null when fewer are free; `fit()` says how many would be.
   */
  take(count: number, aligned = false): number[] | null {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`cannot take ${count} vectors`);
    if (!aligned) {
      const out: number[] = [];
      for (let i = 0; i < this.capacity && out.length < count; i++) if (!this.used[i]) out.push(i);
      if (out.length < count) return null;
      for (const i of out) this.used[i] = true;
      return out.map((i) => i + FIRST_DEVICE_VECTOR);
    }
    const block = nextPowerOfTwo(count);
    for (let base = 0; base + count <= this.capacity; base += block) {
      // the vector number, not the pool index, carries the alignment
      const first = base + ((block - (FIRST_DEVICE_VECTOR % block)) % block);
      if (first + count > this.capacity) break;
      let free = true;
      for (let i = first; i < first + count && free; i++) free = !this.used[i];
      if (!free) continue;
      const out: number[] = [];
      for (let i = first; i < first + count; i++) {
        this.used[i] = true;
        out.push(i + FIRST_DEVICE_VECTOR);
      }
      return out;
    }
    return null;
  }

  /** How many vectors (at most `count`) a request could get right now: what pci_alloc_irq_vectors reports. */
  fit(count: number, aligned = false): number {
    for (let n = count; n >= 1; n--) {
      const got = this.take(n, aligned);
      if (got) {
        this.give(got);
        return n;
      }
    }
    return 0;
  }

  give(vectors: readonly number[]): void {
    for (const v of vectors) {
      const i = v - FIRST_DEVICE_VECTOR;
      if (!this.used[i]) throw new Error(`host vector 0x${v.toString(16)} was not taken`);
      this.used[i] = false;
    }
  }

  /**
   * pci_alloc_irq_vectors(dev, 1, count): all of them, or the smaller number
   * available (nothing taken), or ENOSPC when not even one is free.
   */
  allocate(count: number, aligned: boolean, syscall: string): { vectors: number[] } | { short: number } {
    const got = this.take(count, aligned);
    if (got) return { vectors: got };
    const n = this.fit(count, aligned);
    if (n === 0) throw new Errno("ENOSPC", `no host interrupt vector is free (pool of ${this.capacity})`, syscall);
    return { short: n };
  }
}

export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
