/**
 * Guest RAM as the VMM holds it: one anonymous mmap in the host, DMA-mapped at
 * IOVA 0 (so IOVA = guest physical address). A real VMM reads and writes its own
 * mapping with plain loads and stores; on the emulator the mapping's `read`/`write`
 * go through copy_from_user, which is built for syscall arguments, so the simulator
 * reaches the same bytes through the host memory behind the mapping, which the lab
 * hands out (`machine.lab.guestRam`).
 *
 * Never-written host pages read as zeros, so the source's untouched pages are
 * exactly the pages a VMM would find to be zero and send as zero pages.
 */
import { sha256 } from "../../hw-emu/sim/digest.js";
import type { Mapping } from "../../hw-emu/uapi/index.js";
import { lab } from "../backends/emu.js";

const { PAGE_SIZE, ZERO_PAGE_HASH } = lab;

/** at most this many 32-bit words may differ from the fill word for a page to stay compact */
const COMPACT_PATCHES = 6;

/** Read-only view of the source's RAM: the migration never writes the source. */
export interface SourceRam {
  readonly pages: number;
  isAllocated(page: number): boolean;
  /** guest page numbers of pages that were ever written, ascending */
  allocatedPages(): Float64Array;
  readPage(page: number, into: Uint8Array): void;
}

export class GuestRam implements SourceRam {
  /** host physical address of guest page 0 */
  readonly hostBase: number;
  readonly pages: number;
  readonly size: number;

  constructor(
    /** the host memory behind the mapping */
    readonly view: lab.HostRam,
    readonly mapping: Mapping,
  ) {
    this.hostBase = view.hostBase;
    this.size = view.size;
    this.pages = view.pages;
  }

  host(gpa: number): number {
    return this.view.host(gpa);
  }

  isAllocated(page: number): boolean {
    return this.view.isAllocated(page);
  }

  allocatedPages(): Float64Array {
    return this.view.allocatedPages();
  }

  readPage(page: number, into: Uint8Array): void {
    this.view.readPage(page, into);
  }

  read(gpa: number, length: number): Uint8Array {
    return this.view.read(gpa, length);
  }

  /**
   * Digest of the guest RAM's content, independent of where in the host it sits:
   * every page that is not all zeros, by guest page number and content hash.
   */
  digest(): string {
    const h = sha256();
    const rec = new Uint32Array(2);
    const recBytes = new Uint8Array(rec.buffer);
    const pages = this.allocatedPages();
    for (let i = 0; i < pages.length; i++) {
      const p = pages[i]!;
      const hash = this.view.pageHash(p);
      if (hash === ZERO_PAGE_HASH[0]) continue;
      rec[0] = p;
      rec[1] = hash;
      h.update(recBytes);
    }
    return h.hex().slice(0, 32);
  }
}

/**
 * Copies pages from a source to a destination RAM, writing each page so that a
 * page made of one repeated word plus a few others stays compact on the
 * destination (the same bytes, segmented differently).
 */
export class PageCopier {
  private readonly buf = new Uint8Array(PAGE_SIZE);
  private readonly words = new Uint32Array(this.buf.buffer);
  private readonly fillBuf = new Uint8Array(PAGE_SIZE);
  private readonly fillWords = new Uint32Array(this.fillBuf.buffer);
  private readonly diff = new Int32Array(COMPACT_PATCHES);

  constructor(
    private readonly src: SourceRam,
    private readonly dst: GuestRam,
  ) {}

  /** Copy one page; returns false when it is all zeros (sent as a zero page). */
  copy(page: number): boolean {
    const dst = this.dst.view;
    const dstAddr = page * PAGE_SIZE;
    if (!this.src.isAllocated(page)) {
      if (dst.isAllocated(page)) this.writeFill(dstAddr, 0);
      return false;
    }
    this.src.readPage(page, this.buf);
    const w = this.words;
    let fill = w[0]!;
    let n = this.collect(fill);
    if (n < 0 && w[1] !== fill) {
      fill = w[1]!;
      n = this.collect(fill);
    }
    if (n < 0) {
      dst.write(dstAddr, this.buf);
      return true;
    }
    if (fill === 0 && n === 0) {
      if (dst.isAllocated(page)) this.writeFill(dstAddr, 0);
      return false;
    }
    if (fill !== 0 || dst.isAllocated(page)) this.writeFill(dstAddr, fill);
    for (let k = 0; k < n; k++) {
      const i = this.diff[k]!;
      dst.write(dstAddr + 4 * i, this.buf, 4 * i, 4);
    }
    return true;
  }

  /** word indexes that differ from `fill` into this.diff; -1 when there are too many */
  private collect(fill: number): number {
    const w = this.words;
    let n = 0;
    for (let i = 0; i < w.length; i++) {
      if (w[i] !== fill) {
        if (n === COMPACT_PATCHES) return -1;
        this.diff[n++] = i;
      }
    }
    return n;
  }

  /** `addr` is guest physical */
  private writeFill(addr: number, fill: number): void {
    this.fillWords.fill(fill);
    this.dst.view.write(addr, this.fillBuf);
  }
}
