/**
 * The DMA engine: the path by which a device (a requester id) reads and writes at IOVAs.
 *
 * Each access is gated by the device's bus-master-enable bit, translated by the IOMMU
 * through the domain the device is attached to, and decoded: a target address inside a
 * registered MMIO window goes peer-to-peer to that device, anything else goes to guest RAM.
 *
 * An access is all or nothing: the whole span is translated and decoded before a single
 * byte moves, so a faulting DMA writes nothing. After a successful write the domain's
 * dirty bits are set (while tracking is on; whole leaf extents, as IOPTE dirty bits do) and
 * the device's own `onWrite` hook is told, so device models can keep page-granular logs.
 * Peer-to-peer writes are posted: a refusing target loses the write, the initiator still
 * sees "ok", and the loss is recorded in `lost`.
 */
import type { TimeSource } from "../sim/clock.js";
import { newTranslation, type DmaAccess, type Iommu } from "./iommu.js";
import type { GuestMemory } from "./memory.js";
import { MmioMap, type MmioWindow } from "./mmio.js";

/** What the DMA engine needs to know about a device. */
export interface DmaRequester {
  /** the Bus Master Enable bit of the device's PCI command register, read at every access */
  busMasterEnabled(): boolean;
  /** the device's own DMA write log, told of every successful write (IOVA span) */
  onWrite?(iova: number, length: number): void;
  /** label for logs */
  name?: string;
}

/**
 * Outcome of one access, as the initiating device sees it:
 * - "ok": done (a refused peer-to-peer write also reports ok: writes are posted);
 * - "fault": the IOMMU refused a translation (see `Iommu.faults`); nothing moved;
 * - "bus-master-disabled": the device may not master the bus; nothing happened;
 * - "unclaimed": the target address is neither RAM nor a window; nothing moved.
 */
export type DmaStatus = "ok" | "fault" | "bus-master-disabled" | "unclaimed";

/** A peer-to-peer access a target refused, or an access nothing claimed. */
export interface LostAccess {
  /** simulated ns */
  time: number;
  sourceRid: number;
  source: string;
  /** name of the refusing window, or null when nothing claimed the address */
  target: string | null;
  kind: DmaAccess;
  reason: "refused" | "unclaimed";
  iova: number;
  /** translated (target) address of the piece that was lost */
  address: number;
  length: number;
}

export interface DmaStats {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  faults: number;
  blocked: number;
  p2pWrites: number;
  p2pReads: number;
  lost: number;
}

export interface DmaEngineOptions {
  memory: GuestMemory;
  iommu: Iommu;
  /** peer-to-peer windows (a new empty map by default) */
  mmio?: MmioMap;
  /** time source for the lost-access log */
  clock?: TimeSource;
  /** entries kept in the lost-access log (default 4096; all are counted) */
  lostLogLimit?: number;
}

/** A device's handle on the engine: the same calls with the requester id filled in. */
export class DmaPort {
  constructor(
    private readonly engine: DmaEngine,
    readonly rid: number,
  ) {}
  write(iova: number, data: Uint8Array, offset = 0, length = data.length - offset): DmaStatus {
    return this.engine.write(this.rid, iova, data, offset, length);
  }
  readInto(iova: number, dst: Uint8Array, offset = 0, length = dst.length - offset): DmaStatus {
    return this.engine.readInto(this.rid, iova, dst, offset, length);
  }
  read(iova: number, length: number): { status: DmaStatus; data: Uint8Array } {
    return this.engine.read(this.rid, iova, length);
  }
  /** Stop using the engine (the device was removed). */
  disconnect(): void {
    this.engine.disconnect(this.rid);
  }
}

export class DmaEngine {
  readonly memory: GuestMemory;
  readonly iommu: Iommu;
  readonly mmio: MmioMap;
  readonly stats: DmaStats = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, faults: 0, blocked: 0, p2pWrites: 0, p2pReads: 0, lost: 0 };
  private readonly clock: TimeSource | undefined;
  private readonly requesters = new Map<number, DmaRequester>();
  private readonly tr = newTranslation();
  private readonly lostLimit: number;
  private lostLog: LostAccess[] = [];
  private readonly lostListeners = new Set<(l: LostAccess) => void>();
  // pieces of the access being processed: iova, target address, length, window (or RAM)
  private pIova = new Float64Array(64);
  private pAddr = new Float64Array(64);
  private pLen = new Float64Array(64);
  private pWin: (MmioWindow | null)[] = [];
  private nPieces = 0;
  // leaf extents the access went through (merged when adjacent), for dirty marking
  private dStart = new Float64Array(64);
  private dEnd = new Float64Array(64);
  private nDirty = 0;

  constructor(options: DmaEngineOptions) {
    this.memory = options.memory;
    this.iommu = options.iommu;
    this.mmio = options.mmio ?? new MmioMap();
    this.clock = options.clock;
    this.lostLimit = options.lostLogLimit ?? 4096;
  }

  /** Connect a device by requester id; throws if the id is already connected. */
  connect(rid: number, requester: DmaRequester): DmaPort {
    if (this.requesters.has(rid)) throw new Error(`DMA requester ${rid} already connected`);
    this.requesters.set(rid, requester);
    return new DmaPort(this, rid);
  }

  disconnect(rid: number): void {
    this.requesters.delete(rid);
  }

  /** DMA write of data[offset .. offset+length) at `iova`. */
  write(rid: number, iova: number, data: Uint8Array, offset = 0, length = data.length - offset): DmaStatus {
    const req = this.requester(rid);
    if (offset < 0 || length < 0 || offset + length > data.length) throw new RangeError("DMA write: source span out of bounds");
    if (!req.busMasterEnabled()) {
      this.stats.blocked++;
      return "bus-master-disabled";
    }
    if (length === 0) return "ok";
    const st = this.prepare(rid, req, iova, length, "write");
    if (st !== "ok") return st;
    const mem = this.memory;
    let at = offset;
    for (let k = 0; k < this.nPieces; k++) {
      const n = this.pLen[k]!;
      const win = this.pWin[k];
      if (win === null || win === undefined) {
        mem.write(this.pAddr[k]!, data, at, n);
      } else {
        this.stats.p2pWrites++;
        const accepted = win.target.write(this.pAddr[k]! - win.base, data.subarray(at, at + n));
        if (!accepted) this.lose(rid, req, win.name, "write", "refused", this.pIova[k]!, this.pAddr[k]!, n);
      }
      at += n;
    }
    const domain = this.iommu.domainOf(rid);
    if (domain !== undefined && domain.dirtyTracking) {
      for (let k = 0; k < this.nDirty; k++) domain.markDirty(this.dStart[k]!, this.dEnd[k]! - this.dStart[k]!);
    }
    this.stats.writes++;
    this.stats.bytesWritten += length;
    req.onWrite?.(iova, length);
    return "ok";
  }

  /** DMA read at `iova` into dst[offset .. offset+length). On failure dst is left untouched. */
  readInto(rid: number, iova: number, dst: Uint8Array, offset = 0, length = dst.length - offset): DmaStatus {
    const req = this.requester(rid);
    if (offset < 0 || length < 0 || offset + length > dst.length) throw new RangeError("DMA read: destination span out of bounds");
    if (!req.busMasterEnabled()) {
      this.stats.blocked++;
      return "bus-master-disabled";
    }
    if (length === 0) return "ok";
    const st = this.prepare(rid, req, iova, length, "read");
    if (st !== "ok") return st;
    let at = offset;
    for (let k = 0; k < this.nPieces; k++) {
      const n = this.pLen[k]!;
      const win = this.pWin[k];
      if (win === null || win === undefined) {
        this.memory.readInto(this.pAddr[k]!, dst, at, n);
      } else {
        this.stats.p2pReads++;
        const part = dst.subarray(at, at + n);
        const ok = win.target.read !== undefined && win.target.read(this.pAddr[k]! - win.base, part);
        if (!ok) {
          part.fill(0xff);
          this.lose(rid, req, win.name, "read", "refused", this.pIova[k]!, this.pAddr[k]!, n);
        }
      }
      at += n;
    }
    this.stats.reads++;
    this.stats.bytesRead += length;
    return "ok";
  }

  /** DMA read into a new buffer (zero-filled when the status is not "ok"). */
  read(rid: number, iova: number, length: number): { status: DmaStatus; data: Uint8Array } {
    const data = new Uint8Array(length);
    return { status: this.readInto(rid, iova, data), data };
  }

  // ---- lost accesses ----

  /** the most recent refused or unclaimed accesses (up to the log limit), oldest first */
  get lost(): readonly LostAccess[] {
    return this.lostLog.length > this.lostLimit ? this.lostLog.slice(-this.lostLimit) : this.lostLog;
  }

  clearLost(): void {
    this.lostLog = [];
    this.stats.lost = 0;
  }

  /** Subscribe to lost accesses as they happen; returns an unsubscribe function. */
  onLost(listener: (l: LostAccess) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  // ---- internals ----

  private requester(rid: number): DmaRequester {
    const r = this.requesters.get(rid);
    if (r === undefined) throw new Error(`DMA from unknown requester ${rid}: connect it first`);
    return r;
  }

  /** Translate and decode the whole span into pieces; nothing is moved here. */
  private prepare(rid: number, req: DmaRequester, iova: number, length: number, access: DmaAccess): DmaStatus {
    const tr = this.tr;
    const iommu = this.iommu;
    const mmio = this.mmio;
    const memSize = this.memory.size;
    this.nPieces = 0;
    this.nDirty = 0;
    if (iommu.hasInjectedFaults && iommu.checkInjectedFault(rid, iova, length, access)) {
      this.stats.faults++;
      return "fault";
    }
    let pos = 0;
    while (pos < length) {
      const cur = iova + pos;
      if (!iommu.translate(rid, cur, access, tr)) {
        this.stats.faults++;
        return "fault";
      }
      const leafEnd = tr.leafIova + tr.leafSize;
      const n = Math.min(leafEnd - cur, length - pos);
      if (this.nDirty > 0 && this.dEnd[this.nDirty - 1] === tr.leafIova) this.dEnd[this.nDirty - 1] = leafEnd;
      else this.pushDirty(tr.leafIova, leafEnd);
      // decode the target range: windows first, RAM for the rest
      let addr = tr.gpa;
      let left = n;
      let v = cur;
      while (left > 0) {
        const win = mmio.isEmpty ? undefined : mmio.find(addr);
        let m: number;
        if (win !== undefined) {
          m = Math.min(left, win.base + win.size - addr);
          this.pushPiece(v, addr, m, win);
        } else {
          m = (mmio.isEmpty ? addr + left : mmio.nextWindowStart(addr, left)) - addr;
          if (addr + m > memSize) {
            this.lose(rid, req, null, access, "unclaimed", v, Math.max(addr, memSize), addr + m - Math.max(addr, memSize));
            return "unclaimed";
          }
          this.pushPiece(v, addr, m, null);
        }
        addr += m;
        v += m;
        left -= m;
      }
      pos += n;
    }
    return "ok";
  }

  private pushPiece(iova: number, addr: number, len: number, win: MmioWindow | null): void {
    const k = this.nPieces;
    if (k > 0 && win === null && this.pWin[k - 1] === null && this.pAddr[k - 1]! + this.pLen[k - 1]! === addr) {
      // contiguous RAM: one memory access instead of one per leaf
      this.pLen[k - 1] = this.pLen[k - 1]! + len;
      return;
    }
    if (k === this.pIova.length) {
      this.pIova = grow(this.pIova);
      this.pAddr = grow(this.pAddr);
      this.pLen = grow(this.pLen);
    }
    this.pIova[k] = iova;
    this.pAddr[k] = addr;
    this.pLen[k] = len;
    this.pWin[k] = win;
    this.nPieces = k + 1;
  }

  private pushDirty(start: number, end: number): void {
    const k = this.nDirty;
    if (k === this.dStart.length) {
      this.dStart = grow(this.dStart);
      this.dEnd = grow(this.dEnd);
    }
    this.dStart[k] = start;
    this.dEnd[k] = end;
    this.nDirty = k + 1;
  }

  private lose(rid: number, req: DmaRequester, target: string | null, kind: DmaAccess, reason: LostAccess["reason"], iova: number, address: number, length: number): void {
    const entry: LostAccess = { time: this.clock?.now ?? 0, sourceRid: rid, source: req.name ?? `rid ${rid}`, target, kind, reason, iova, address, length };
    this.stats.lost++;
    this.lostLog.push(entry);
    if (this.lostLog.length >= 2 * this.lostLimit) this.lostLog = this.lostLog.slice(-this.lostLimit);
    for (const l of this.lostListeners) l(entry);
  }
}

function grow(a: Float64Array): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}
