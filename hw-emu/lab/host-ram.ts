/**
 * Guest RAM seen from the host memory behind it. A VMM reads and writes its own mapping of
 * guest RAM with plain loads and stores; on the emulator a mapping's read/write go through
 * copy_from_user, which is built for syscall arguments, so the simulated VMM and the lab
 * reach the same bytes through the host memory the anonymous mapping sits on. Addresses
 * here are guest physical: byte 0 is the mapping's first byte.
 *
 * Never-written host pages read as zeros.
 */
import { PAGE_SIZE, type GuestMemory } from "../hw/memory.js";

export class HostRam {
  readonly pages: number;

  constructor(
    private readonly memory: GuestMemory,
    /** host physical address of guest page 0 */
    readonly hostBase: number,
    readonly size: number,
  ) {
    this.pages = size / PAGE_SIZE;
  }

  /** host physical address of a guest physical address */
  host(gpa: number): number {
    return this.hostBase + gpa;
  }

  /** whether guest page `page` was ever written */
  isAllocated(page: number): boolean {
    return this.memory.isAllocated(this.hostBase + page * PAGE_SIZE);
  }

  /** guest page numbers of pages that were ever written, ascending */
  allocatedPages(): Float64Array {
    const addrs = this.memory.allocatedPageAddresses(this.hostBase, this.size);
    for (let i = 0; i < addrs.length; i++) addrs[i] = (addrs[i]! - this.hostBase) / PAGE_SIZE;
    return addrs;
  }

  readPage(page: number, into: Uint8Array): void {
    this.memory.readInto(this.hostBase + page * PAGE_SIZE, into, 0, PAGE_SIZE);
  }

  read(gpa: number, length: number): Uint8Array {
    return this.memory.read(this.hostBase + gpa, length);
  }

  /** Store bytes without the CPU dirty log (the migration's own writes into the destination). */
  write(gpa: number, src: Uint8Array, srcOffset = 0, length = src.length - srcOffset): void {
    this.memory.write(this.hostBase + gpa, src, srcOffset, length);
  }

  /** content hash of guest page `page` */
  pageHash(page: number): number {
    return this.memory.pageHash(this.hostBase + page * PAGE_SIZE);
  }
}
