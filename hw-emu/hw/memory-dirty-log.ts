/**
 * The CPU side of dirty tracking: guest CPU stores go through here, and while logging is on
 * every page they touch is marked, as a hypervisor's dirty log (write-protection faults or
 * PML) marks guest RAM. The migration orchestrator reads and clears it for RAM pre-copy;
 * device DMA is not seen here (that is the IOMMU's and the devices' job).
 */
import { ChunkedBitmap } from "./bitmap-chunked.js";
import { PAGE_SIZE, type GuestMemory } from "./memory.js";

export class GuestDirtyLog {
  private readonly bits = new ChunkedBitmap();
  private logging = false;

  constructor(readonly memory: GuestMemory) {}

  get enabled(): boolean {
    return this.logging;
  }

  /** Start logging; stale bits from an earlier run are dropped. */
  start(): void {
    this.bits.clearAll();
    this.logging = true;
  }

  /** Stop logging; bits already set stay readable. */
  stop(): void {
    this.logging = false;
  }

  /** A guest CPU store: writes memory and, while logging, marks the pages. */
  write(gpa: number, data: Uint8Array, offset = 0, length = data.length - offset): void {
    this.memory.write(gpa, data, offset, length);
    if (this.logging && length > 0) this.mark(gpa, length);
  }

  /** Mark [gpa, gpa+length) dirty (whole pages). */
  mark(gpa: number, length: number): void {
    const p0 = Math.floor(gpa / PAGE_SIZE);
    this.bits.setRange(p0, Math.ceil((gpa + length) / PAGE_SIZE) - p0);
  }

  /** whether the page holding `gpa` is marked */
  isDirty(gpa: number): boolean {
    return this.bits.test(Math.floor(gpa / PAGE_SIZE));
  }

  /**
   * OR the dirty state of [gpa, gpa+length) (page-aligned) into `bitmap`, bit n = page at
   * gpa + n*4096, and clear it unless `clear: false`.
   */
  read(gpa: number, length: number, bitmap: Uint32Array, options: { clear?: boolean } = {}): void {
    if (gpa % PAGE_SIZE || length % PAGE_SIZE) throw new RangeError("dirty log: range must be page-aligned");
    if (gpa + length > this.memory.size) throw new RangeError("dirty log: range beyond guest memory");
    const pages = length / PAGE_SIZE;
    if (bitmap.length * 32 < pages) throw new RangeError(`dirty log: bitmap holds ${bitmap.length * 32} bits, ${pages} needed`);
    this.bits.harvest(gpa / PAGE_SIZE, pages, 0, bitmap, options.clear ?? true);
  }
}
