/**
 * A NIC-like virtual function, modelled on the behaviour of the ConnectX VFs
 * that drove the VFIO migration design: TX/RX descriptor rings in guest
 * memory, packets moved by DMA, peer-to-peer doorbell writes into another
 * device's BAR, one MSI-X vector per queue (plus one for the mailbox),
 * device-side DMA logging, and a device state from KiBs to hundreds of MiB
 * streamed with STOP_COPY, P2P and PRE_COPY.
 *
 * BAR0 (64 KiB, 64-bit):
 *   0x0000 ID (ro)          0x0004 STATUS (ro: 1 running, 2 p2p-quiesced, 4 stopped)
 *   0x0008 QUEUES (ro)      0x000c CTRL (bit0 enable, bit1 mailbox interrupt)
 *   0x0010 TX_PACKETS  0x0014 RX_PACKETS  0x0018 RX_DROPPED  0x001c TX_ERRORS
 *   0x0020 P2P_SENT    0x0024 P2P_RECEIVED  0x0028 P2P_LAST   (all ro)
 *   0x0100 + 0x40*q: queue q registers (see NIC_QUEUE_REGS)
 *   0x1000..0x103f: mailbox, 16 dwords: the P2P doorbell peers write into
 *   0x2000: MSI-X table, 0x3000: PBA
 *
 * Descriptors are 16 bytes. TX: {u64 addr, u32 len, u8 op, u8 0, u16 status};
 * op 0 = send len bytes at addr, op 1 = peer doorbell: write the u32 `len`
 * to IOVA addr (a peer's BAR, mapped in the IOMMU). RX: {u64 addr, u32
 * buffer length, u16 packet length, u16 status}. Status: 1 done, 2 error,
 * 4 truncated. The driver advances TAIL, the device advances HEAD.
 *
 * Migration stream: records {u64 size, u32 flags, u32 tag} + payload;
 * HEADER (config and seed), PAGE (u32 index, u32 version, 4 KiB of bulk
 * state), REGS (registers, queues, counters, CRC32), END. Pre-copy sends
 * HEADER and every PAGE as initial data, then re-sends pages changed since;
 * stop-copy adds what is still dirty, REGS and END.
 */
import { Buffer } from "node:buffer";
import { crc32 } from "../../sim/digest.js";
import type { TimeSource } from "../../sim/clock.js";
import type { DmaEngine } from "../dma.js";
import { MsixController } from "../msix.js";
import type { AccessSize } from "../pci/config-space.js";
import { PciFunction } from "../pci/function.js";
import type { InterruptLog } from "../pci/interrupt-log.js";
import type { VfContext } from "../sriov.js";
import { BULK_PAGE_SIZE, BulkState, generateBulkPage } from "./bulk-state.js";
import { DeviceModel, type DeviceTraits } from "./device-base.js";
import { PageDirtyLog } from "./dma-log.js";
import { DeviceMigrationError, type MigrationFeatures, type ResumeStream, type RunState, type SaveStream } from "./migration.js";
import { PullStream, RECORD_FLAG_OPTIONAL, RECORD_HEADER_SIZE, RecordParser, encodeRecord, type ParsedRecord } from "./stream-records.js";

/** Made-up ids in the range QEMU uses for emulated test devices. */
export const NIC_VENDOR_ID = 0x1234;
export const NIC_PF_DEVICE_ID = 0x7e10;
export const NIC_VF_DEVICE_ID = 0x7e11;

export const NIC_BAR0_SIZE = 0x10000;
/** VF BAR layout, for the PF's SR-IOV capability. */
export const NIC_VF_BARS = { 0: { kind: "mem64" as const, size: NIC_BAR0_SIZE } };

export const NIC_REGS = {
  ID: 0x0000,
  STATUS: 0x0004,
  QUEUES: 0x0008,
  CTRL: 0x000c,
  TX_PACKETS: 0x0010,
  RX_PACKETS: 0x0014,
  RX_DROPPED: 0x0018,
  TX_ERRORS: 0x001c,
  P2P_SENT: 0x0020,
  P2P_RECEIVED: 0x0024,
  P2P_LAST: 0x0028,
  QUEUE_BASE: 0x0100,
  QUEUE_STRIDE: 0x40,
  MAILBOX: 0x1000,
  MAILBOX_SLOTS: 16,
  MSIX_TABLE: 0x2000,
  MSIX_PBA: 0x3000,
} as const;

export const NIC_QUEUE_REGS = {
  TX_BASE_LO: 0x00,
  TX_BASE_HI: 0x04,
  TX_SIZE: 0x08,
  TX_TAIL: 0x0c,
  TX_HEAD: 0x10,
  RX_BASE_LO: 0x14,
  RX_BASE_HI: 0x18,
  RX_SIZE: 0x1c,
  RX_TAIL: 0x20,
  RX_HEAD: 0x24,
  /** bit0: raise the queue's MSI-X vector on completions */
  IRQ: 0x28,
} as const;

export const NIC_CTRL_ENABLE = 0x1;
export const NIC_CTRL_MAILBOX_IRQ = 0x2;
export const NIC_ID = 0x3143494e; // the bytes read "NIC1"
export const NIC_DESC_SIZE = 16;
export const NIC_TX_OP_SEND = 0;
export const NIC_TX_OP_P2P = 1;
export const NIC_DESC_DONE = 0x1;
export const NIC_DESC_ERROR = 0x2;
export const NIC_DESC_TRUNCATED = 0x4;
export const NIC_MAX_QUEUES = 8;
export const NIC_MAX_RING = 4096;
export const NIC_MAX_PACKET = 65536;

/** transmitted packets kept for inspection */
const EGRESS_KEPT = 4096;
const TAG_HEADER = 1;
const TAG_PAGE = 2;
const TAG_REGS = 3;
const TAG_END = 4;
const STREAM_MAGIC = 0x4e49434d;
const STREAM_VERSION = 1;
const HEADER_PAYLOAD = 28;
const PAGE_PREFIX = 8;
const SNAPSHOT_MAGIC = 0x4e494353;
const GLOBAL_WORDS = 9 + NIC_REGS.MAILBOX_SLOTS;
const QUEUE_WORDS = 12;

export interface NicVfOptions {
  name?: string;
  /** from the PF's SR-IOV capability; absent = a standalone function (tests, single-device labs) */
  vf?: VfContext;
  dma?: DmaEngine | null;
  time?: TimeSource | null;
  /** queue pairs, 1..8 (default 2) */
  queues?: number;
  /** bytes of bulk device state (default 1 MiB); any size from a few KiB to hundreds of MiB */
  stateSize?: number;
  /** seed of the bulk state content (default 1) */
  seed?: number;
  interruptLog?: InterruptLog;
  /** offer PRE_COPY (default true) */
  preCopy?: boolean;
}

interface Queue {
  txBase: number;
  txSize: number;
  txHead: number;
  txTail: number;
  rxBase: number;
  rxSize: number;
  rxHead: number;
  rxTail: number;
  irq: number;
  /** TX processing is parked on a peer-doorbell descriptor (P2P quiesced) */
  stalled: number;
}

function emptyQueue(): Queue {
  return { txBase: 0, txSize: 0, txHead: 0, txTail: 0, rxBase: 0, rxSize: 0, rxHead: 0, rxTail: 0, irq: 0, stalled: 0 };
}

interface NicRegs {
  ctrl: number;
  txPackets: number;
  rxPackets: number;
  rxDropped: number;
  txErrors: number;
  p2pSent: number;
  p2pReceived: number;
  p2pLast: number;
  flowCounter: number;
  mailbox: Uint32Array;
  queues: Queue[];
}

function emptyRegs(queues: number): NicRegs {
  return {
    ctrl: 0,
    txPackets: 0,
    rxPackets: 0,
    rxDropped: 0,
    txErrors: 0,
    p2pSent: 0,
    p2pReceived: 0,
    p2pLast: 0,
    flowCounter: 0,
    mailbox: new Uint32Array(NIC_REGS.MAILBOX_SLOTS),
    queues: Array.from({ length: queues }, emptyQueue),
  };
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface TransmittedPacket {
  time: number;
  queue: number;
  data: Uint8Array;
}

export class NicVf extends DeviceModel {
  readonly kind = "nic-vf";
  readonly name: string;
  readonly fn: PciFunction;
  readonly features: MigrationFeatures;
  readonly preCopyEmptyRead = "enomsg" as const;
  readonly traits: DeviceTraits = { dma: true, p2pInitiator: true, p2pTarget: true };
  readonly msix: MsixController;
  readonly queueCount: number;
  readonly stateSize: number;
  private regs: NicRegs;
  /** @internal the bulk state; replaced on reset and resume */
  bulk: BulkState;
  private readonly seed: number;
  private readonly ingress: Uint8Array[][];
  private egress: TransmittedPacket[] = [];
  private egressCount = 0;
  private pumping = false;

  constructor(opts: NicVfOptions = {}) {
    super({ dma: opts.dma ?? null, time: opts.time ?? null });
    const queues = opts.queues ?? 2;
    if (!Number.isInteger(queues) || queues < 1 || queues > NIC_MAX_QUEUES) throw new RangeError(`NIC queues ${queues} not in 1..${NIC_MAX_QUEUES}`);
    this.queueCount = queues;
    this.stateSize = opts.stateSize ?? 1024 * 1024;
    this.seed = (opts.seed ?? 1) >>> 0;
    this.name = opts.name ?? (opts.vf ? `nic-vf${opts.vf.index}` : "nic-vf");
    this.features = { stopCopy: true, p2p: true, preCopy: opts.preCopy ?? true, dmaLogging: true };
    this.regs = emptyRegs(queues);
    this.bulk = new BulkState(this.stateSize, this.seed);
    this.ingress = Array.from({ length: queues }, () => []);
    this.pageLog = new PageDirtyLog();
    this.fn = new PciFunction({
      name: this.name,
      vendorId: opts.vf?.vendorId ?? NIC_VENDOR_ID,
      deviceId: opts.vf?.deviceId ?? NIC_VF_DEVICE_ID,
      classCode: 0x020000,
      vf: opts.vf?.backing,
      bars: { 0: { ...NIC_VF_BARS[0], handler: { read: (o, s) => this.mmioRead(o, s), write: (o, s, v) => this.mmioWrite(o, s, v) } } },
    });
    this.msix = new MsixController(this.fn, {
      vectors: queues + 1,
      tableBar: 0,
      tableOffset: NIC_REGS.MSIX_TABLE,
      pbaBar: 0,
      pbaOffset: NIC_REGS.MSIX_PBA,
      log: opts.interruptLog,
      time: opts.time ?? undefined,
    });
    this.fn.setPeerWriteFilter(() => this.acceptPeerWrite());
    this.installResetHook();
  }

  /** MSI-X vector of the mailbox (after the per-queue vectors). */
  get mailboxVector(): number {
    return this.queueCount;
  }

  // ---- registers ----

  private statusBits(): number {
    const s = this.runState;
    return s === "running" ? 1 : s === "running-p2p" ? 2 : 4;
  }

  private regRead(offset: number): number {
    const r = this.regs;
    switch (offset) {
      case NIC_REGS.ID:
        return NIC_ID;
      case NIC_REGS.STATUS:
        return this.statusBits();
      case NIC_REGS.QUEUES:
        return this.queueCount;
      case NIC_REGS.CTRL:
        return r.ctrl;
      case NIC_REGS.TX_PACKETS:
        return r.txPackets;
      case NIC_REGS.RX_PACKETS:
        return r.rxPackets;
      case NIC_REGS.RX_DROPPED:
        return r.rxDropped;
      case NIC_REGS.TX_ERRORS:
        return r.txErrors;
      case NIC_REGS.P2P_SENT:
        return r.p2pSent;
      case NIC_REGS.P2P_RECEIVED:
        return r.p2pReceived;
      case NIC_REGS.P2P_LAST:
        return r.p2pLast;
    }
    if (offset >= NIC_REGS.MAILBOX && offset < NIC_REGS.MAILBOX + 4 * NIC_REGS.MAILBOX_SLOTS) {
      return r.mailbox[(offset - NIC_REGS.MAILBOX) >> 2]!;
    }
    const q = this.queueAt(offset);
    if (!q) return 0;
    const Q = q.queue;
    switch (q.reg) {
      case NIC_QUEUE_REGS.TX_BASE_LO:
        return Q.txBase % 2 ** 32;
      case NIC_QUEUE_REGS.TX_BASE_HI:
        return Math.floor(Q.txBase / 2 ** 32);
      case NIC_QUEUE_REGS.TX_SIZE:
        return Q.txSize;
      case NIC_QUEUE_REGS.TX_TAIL:
        return Q.txTail;
      case NIC_QUEUE_REGS.TX_HEAD:
        return Q.txHead;
      case NIC_QUEUE_REGS.RX_BASE_LO:
        return Q.rxBase % 2 ** 32;
      case NIC_QUEUE_REGS.RX_BASE_HI:
        return Math.floor(Q.rxBase / 2 ** 32);
      case NIC_QUEUE_REGS.RX_SIZE:
        return Q.rxSize;
      case NIC_QUEUE_REGS.RX_TAIL:
        return Q.rxTail;
      case NIC_QUEUE_REGS.RX_HEAD:
        return Q.rxHead;
      case NIC_QUEUE_REGS.IRQ:
        return Q.irq;
    }
    return 0;
  }

  private queueAt(offset: number): { queue: Queue; index: number; reg: number } | null {
    const rel = offset - NIC_REGS.QUEUE_BASE;
    if (rel < 0) return null;
    const index = Math.floor(rel / NIC_REGS.QUEUE_STRIDE);
    if (index >= this.queueCount) return null;
    return { queue: this.regs.queues[index]!, index, reg: rel % NIC_REGS.QUEUE_STRIDE };
  }

  private mmioRead(offset: number, size: AccessSize): number {
    const word = this.regRead(offset & ~3) >>> 0;
    if (size === 4) return word;
    return (word >>> ((offset & 3) * 8)) & (size === 2 ? 0xffff : 0xff);
  }

  private mmioWrite(offset: number, size: AccessSize, value: number): void {
    // Registers take 32-bit writes only; narrower writes are ignored, as on many NICs.
    if (size !== 4) return;
    const r = this.regs;
    const v = value >>> 0;
    if (offset === NIC_REGS.CTRL) {
      r.ctrl = v & (NIC_CTRL_ENABLE | NIC_CTRL_MAILBOX_IRQ);
      this.pump();
      return;
    }
    if (offset >= NIC_REGS.MAILBOX && offset < NIC_REGS.MAILBOX + 4 * NIC_REGS.MAILBOX_SLOTS) {
      r.mailbox[(offset - NIC_REGS.MAILBOX) >> 2] = v;
      r.p2pReceived = (r.p2pReceived + 1) >>> 0;
      r.p2pLast = v;
      this.touchFlow(v ^ 0x6d61696c);
      if (r.ctrl & NIC_CTRL_MAILBOX_IRQ) this.msix.fire(this.mailboxVector);
      return;
    }
    const q = this.queueAt(offset);
    if (!q) return;
    const Q = q.queue;
    const ringSize = (n: number) => (n >= 1 && n <= NIC_MAX_RING && (n & (n - 1)) === 0 ? n : 0);
    switch (q.reg) {
      case NIC_QUEUE_REGS.TX_BASE_LO:
        Q.txBase = Math.floor(Q.txBase / 2 ** 32) * 2 ** 32 + (v & ~0xf);
        break;
      case NIC_QUEUE_REGS.TX_BASE_HI:
        Q.txBase = (v & 0x1fffff) * 2 ** 32 + (Q.txBase % 2 ** 32);
        break;
      case NIC_QUEUE_REGS.TX_SIZE:
        Q.txSize = ringSize(v);
        Q.txHead = 0;
        Q.txTail = 0;
        break;
      case NIC_QUEUE_REGS.TX_TAIL:
        if (Q.txSize) Q.txTail = v & (Q.txSize - 1);
        this.pump();
        break;
      case NIC_QUEUE_REGS.RX_BASE_LO:
        Q.rxBase = Math.floor(Q.rxBase / 2 ** 32) * 2 ** 32 + (v & ~0xf);
        break;
      case NIC_QUEUE_REGS.RX_BASE_HI:
        Q.rxBase = (v & 0x1fffff) * 2 ** 32 + (Q.rxBase % 2 ** 32);
        break;
      case NIC_QUEUE_REGS.RX_SIZE:
        Q.rxSize = ringSize(v);
        Q.rxHead = 0;
        Q.rxTail = 0;
        break;
      case NIC_QUEUE_REGS.RX_TAIL:
        if (Q.rxSize) Q.rxTail = v & (Q.rxSize - 1);
        this.pump();
        break;
      case NIC_QUEUE_REGS.IRQ:
        Q.irq = v & 1;
        break;
    }
  }

  // ---- data path ----

  /** A packet arrives from the wire for `queue` (lab / workload side). */
  receive(queue: number, packet: Uint8Array): void {
    if (!Number.isInteger(queue) || queue < 0 || queue >= this.queueCount) throw new RangeError(`queue ${queue}`);
    this.ingress[queue]!.push(packet.slice());
    this.pump();
  }

  /** Packets waiting on the wire (not yet taken by the device). */
  ingressDepth(queue?: number): number {
    if (queue !== undefined) return this.ingress[queue]!.length;
    return this.ingress.reduce((n, q) => n + q.length, 0);
  }

  /** Packets sent so far (the most recent 4096), oldest first. */
  get transmitted(): readonly TransmittedPacket[] {
    if (this.egress.length > EGRESS_KEPT) this.egress = this.egress.slice(-EGRESS_KEPT);
    return this.egress;
  }

  get transmittedCount(): number {
    return this.egressCount;
  }

  /**
   * Changes `pages` pages of bulk state, as background device activity
   * (connection tracking, counters) does while running. Returns pages touched.
   */
  churn(pages: number): number {
    if (!this.mayProcess() || this.bulk.pages === 0) return 0;
    for (let i = 0; i < pages; i++) this.touchFlow(0x63687572 ^ i);
    return pages;
  }

  private touchFlow(h: number): void {
    const r = this.regs;
    if (this.bulk.pages === 0) return;
    const page = fmix32((h ^ Math.imul(r.flowCounter + 1, 0x9e3779b1)) >>> 0) % this.bulk.pages;
    r.flowCounter = (r.flowCounter + 1) >>> 0;
    this.bulk.touch(page);
  }

  private pump(): void {
    if (this.pumping || !this.mayProcess() || !(this.regs.ctrl & NIC_CTRL_ENABLE)) return;
    this.pumping = true;
    try {
      for (let q = 0; q < this.queueCount; q++) {
        this.processTx(q);
        this.processRx(q);
      }
    } finally {
      this.pumping = false;
    }
  }

  private processTx(q: number): void {
    const Q = this.regs.queues[q]!;
    const r = this.regs;
    if (!Q.txSize) return;
    let done = 0;
    while (Q.txHead !== Q.txTail && this.mayProcess()) {
      const descAddr = Q.txBase + Q.txHead * NIC_DESC_SIZE;
      const d = this.dmaRead(descAddr, NIC_DESC_SIZE);
      if (d.status !== "ok") {
        r.txErrors = (r.txErrors + 1) >>> 0;
        break;
      }
      const dv = new DataView(d.data.buffer);
      const addr = Number(dv.getBigUint64(0, true));
      const len = dv.getUint32(8, true);
      const op = dv.getUint8(12);
      let status = NIC_DESC_DONE;
      if (op === NIC_TX_OP_P2P) {
        if (!this.mayInitiateP2p()) {
          Q.stalled = 1;
          break;
        }
        const word = new Uint8Array(4);
        new DataView(word.buffer).setUint32(0, len, true);
        if (this.dmaWrite(addr, word, true) === "ok") r.p2pSent = (r.p2pSent + 1) >>> 0;
        else status |= NIC_DESC_ERROR;
      } else if (op === NIC_TX_OP_SEND && len <= NIC_MAX_PACKET) {
        const p = this.dmaRead(addr, len);
        if (p.status === "ok") {
          this.pushEgress(q, p.data);
          r.txPackets = (r.txPackets + 1) >>> 0;
          this.touchFlow(crc32(p.data));
        } else status |= NIC_DESC_ERROR;
      } else {
        status |= NIC_DESC_ERROR;
      }
      if (status & NIC_DESC_ERROR) r.txErrors = (r.txErrors + 1) >>> 0;
      Q.stalled = 0;
      const wb = new Uint8Array(2);
      new DataView(wb.buffer).setUint16(0, status, true);
      if (this.dmaWrite(descAddr + 14, wb) !== "ok") {
        r.txErrors = (r.txErrors + 1) >>> 0;
        break;
      }
      Q.txHead = (Q.txHead + 1) & (Q.txSize - 1);
      done++;
    }
    if (done > 0 && Q.irq & 1) this.msix.fire(q);
  }

  private processRx(q: number): void {
    const Q = this.regs.queues[q]!;
    const r = this.regs;
    const wire = this.ingress[q]!;
    let done = 0;
    while (wire.length > 0 && this.mayProcess()) {
      if (!Q.rxSize || Q.rxHead === Q.rxTail) {
        // No posted buffer: the packet is dropped, as a NIC does.
        wire.shift();
        r.rxDropped = (r.rxDropped + 1) >>> 0;
        continue;
      }
      const descAddr = Q.rxBase + Q.rxHead * NIC_DESC_SIZE;
      const d = this.dmaRead(descAddr, NIC_DESC_SIZE);
      if (d.status !== "ok") break;
      const dv = new DataView(d.data.buffer);
      const addr = Number(dv.getBigUint64(0, true));
      const buflen = dv.getUint32(8, true);
      const pkt = wire.shift()!;
      const n = Math.min(pkt.length, buflen, 0xffff);
      let status = NIC_DESC_DONE | (n < pkt.length ? NIC_DESC_TRUNCATED : 0);
      if (this.dmaWrite(addr, pkt.subarray(0, n)) !== "ok") status |= NIC_DESC_ERROR;
      const wb = new Uint8Array(4);
      const wv = new DataView(wb.buffer);
      wv.setUint16(0, n, true);
      wv.setUint16(2, status, true);
      if (this.dmaWrite(descAddr + 12, wb) !== "ok") break;
      r.rxPackets = (r.rxPackets + 1) >>> 0;
      this.touchFlow(crc32(pkt));
      Q.rxHead = (Q.rxHead + 1) & (Q.rxSize - 1);
      done++;
    }
    if (done > 0 && Q.irq & 1) this.msix.fire(q);
  }

  private pushEgress(queue: number, data: Uint8Array): void {
    this.egress.push({ time: this.now(), queue, data });
    this.egressCount++;
    if (this.egress.length >= 2 * EGRESS_KEPT) this.egress = this.egress.slice(-EGRESS_KEPT);
  }

  protected onRunStateChange(_prev: RunState, next: RunState): void {
    this.msix.setHeld(next === "stopped");
    if (next !== "stopped") this.pump();
  }

  // ---- state encoding ----

  /** @internal registers, queues and counters with a trailing CRC32 */
  encodeRegs(): Uint8Array {
    const r = this.regs;
    const words = GLOBAL_WORDS + QUEUE_WORDS * this.queueCount;
    const out = new Uint8Array(4 * words + 4);
    const v = new DataView(out.buffer);
    let o = 0;
    const put = (x: number) => {
      v.setUint32(o, x >>> 0, true);
      o += 4;
    };
    for (const x of [r.ctrl, r.txPackets, r.rxPackets, r.rxDropped, r.txErrors, r.p2pSent, r.p2pReceived, r.p2pLast, r.flowCounter]) put(x);
    for (const x of r.mailbox) put(x);
    for (const Q of r.queues) {
      for (const x of [Q.txBase % 2 ** 32, Math.floor(Q.txBase / 2 ** 32), Q.txSize, Q.txHead, Q.txTail]) put(x);
      for (const x of [Q.rxBase % 2 ** 32, Math.floor(Q.rxBase / 2 ** 32), Q.rxSize, Q.rxHead, Q.rxTail, Q.irq, Q.stalled]) put(x);
    }
    v.setUint32(o, crc32(out.subarray(0, o)), true);
    return out;
  }

  /** @internal the inverse of encodeRegs (throws "corrupt" on a bad blob) */
  decodeRegs(blob: Uint8Array): NicRegs {
    const words = GLOBAL_WORDS + QUEUE_WORDS * this.queueCount;
    if (blob.length !== 4 * words + 4) throw new DeviceMigrationError("corrupt", `register block of ${blob.length} bytes, expected ${4 * words + 4}`);
    const v = new DataView(blob.buffer, blob.byteOffset, blob.length);
    if (v.getUint32(4 * words, true) !== crc32(blob.subarray(0, 4 * words))) throw new DeviceMigrationError("corrupt", "register block CRC mismatch");
    let o = 0;
    const get = () => {
      const x = v.getUint32(o, true);
      o += 4;
      return x;
    };
    const r = emptyRegs(this.queueCount);
    r.ctrl = get();
    r.txPackets = get();
    r.rxPackets = get();
    r.rxDropped = get();
    r.txErrors = get();
    r.p2pSent = get();
    r.p2pReceived = get();
    r.p2pLast = get();
    r.flowCounter = get();
    for (let i = 0; i < NIC_REGS.MAILBOX_SLOTS; i++) r.mailbox[i] = get();
    for (const Q of r.queues) {
      Q.txBase = get() + get() * 2 ** 32;
      Q.txSize = get();
      Q.txHead = get();
      Q.txTail = get();
      Q.rxBase = get() + get() * 2 ** 32;
      Q.rxSize = get();
      Q.rxHead = get();
      Q.rxTail = get();
      Q.irq = get();
      Q.stalled = get();
      for (const [size, idx] of [[Q.txSize, Q.txHead], [Q.txSize, Q.txTail], [Q.rxSize, Q.rxHead], [Q.rxSize, Q.rxTail]] as const) {
        if ((size !== 0 && (size & (size - 1)) !== 0) || size > NIC_MAX_RING || (size === 0 ? idx !== 0 : idx >= size)) {
          throw new DeviceMigrationError("corrupt", "queue indices out of range");
        }
      }
    }
    return r;
  }

  /** @internal */
  applyState(regs: NicRegs, bulk: BulkState): void {
    this.regs = regs;
    this.bulk = bulk;
  }

  /** @internal stream header payload */
  headerPayload(): Uint8Array {
    const out = new Uint8Array(HEADER_PAYLOAD);
    const v = new DataView(out.buffer);
    v.setUint32(0, STREAM_MAGIC, true);
    v.setUint16(4, STREAM_VERSION, true);
    v.setUint16(6, this.queueCount, true);
    v.setBigUint64(8, BigInt(this.stateSize), true);
    v.setUint32(16, BULK_PAGE_SIZE, true);
    v.setUint32(20, this.bulk.seed, true);
    v.setUint32(24, crc32(out.subarray(0, 24)), true);
    return out;
  }

  /** @internal one PAGE record of the current bulk state */
  pageRecord(index: number): Uint8Array {
    const len = this.bulk.pageLength(index);
    const out = new Uint8Array(RECORD_HEADER_SIZE + PAGE_PREFIX + len);
    const v = new DataView(out.buffer);
    v.setBigUint64(0, BigInt(PAGE_PREFIX + len), true);
    v.setUint32(8, 0, true);
    v.setUint32(12, TAG_PAGE, true);
    v.setUint32(16, index, true);
    v.setUint32(20, this.bulk.version(index), true);
    this.bulk.fillPage(index, out, RECORD_HEADER_SIZE + PAGE_PREFIX);
    return out;
  }

  /** @internal bytes of PAGE records for pages [from, pages) */
  pageRecordBytes(from: number): number {
    const n = this.bulk.pages - from;
    if (n <= 0) return 0;
    return n * (RECORD_HEADER_SIZE + PAGE_PREFIX) + (this.stateSize - from * BULK_PAGE_SIZE);
  }

  /** @internal size of the REGS record */
  regsRecordBytes(): number {
    return RECORD_HEADER_SIZE + 4 * (GLOBAL_WORDS + QUEUE_WORDS * this.queueCount) + 4;
  }

  stopCopyLength(): number {
    return RECORD_HEADER_SIZE + HEADER_PAYLOAD + this.pageRecordBytes(0) + this.regsRecordBytes() + RECORD_HEADER_SIZE;
  }

  protected createSaveStream(preCopy: boolean): SaveStream {
    return new NicSaveStream(this, preCopy);
  }

  protected createResumeStream(): ResumeStream {
    return new NicResumeStream(this);
  }

  // ---- snapshot ----

  save(): Uint8Array {
    const regs = this.encodeRegs();
    const versions = this.bulk.versionsCopy();
    const out = new Uint8Array(24 + regs.length + 4 * versions.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, SNAPSHOT_MAGIC, true);
    v.setUint32(4, this.queueCount, true);
    v.setFloat64(8, this.stateSize, true);
    v.setUint32(16, this.bulk.seed, true);
    v.setUint32(20, regs.length, true);
    out.set(regs, 24);
    const vo = 24 + regs.length;
    for (let i = 0; i < versions.length; i++) v.setUint32(vo + 4 * i, versions[i]!, true);
    return out;
  }

  load(bytes: Uint8Array): void {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    if (bytes.length < 24 || v.getUint32(0, true) !== SNAPSHOT_MAGIC) throw new DeviceMigrationError("corrupt", "not a NIC snapshot");
    if (v.getUint32(4, true) !== this.queueCount || v.getFloat64(8, true) !== this.stateSize) {
      throw new DeviceMigrationError("incompatible", "snapshot from a NIC with a different configuration");
    }
    const seed = v.getUint32(16, true);
    const regsLen = v.getUint32(20, true);
    const regs = this.decodeRegs(bytes.subarray(24, 24 + regsLen));
    const pages = Math.ceil(this.stateSize / BULK_PAGE_SIZE);
    if (bytes.length !== 24 + regsLen + 4 * pages) throw new DeviceMigrationError("corrupt", "snapshot length");
    const versions = new Uint32Array(pages);
    for (let i = 0; i < pages; i++) versions[i] = v.getUint32(24 + regsLen + 4 * i, true);
    this.closeSession();
    this.applyState(regs, new BulkState(this.stateSize, seed, versions));
    this.pump();
  }

  protected resetInternalState(): void {
    this.regs = emptyRegs(this.queueCount);
    this.bulk = new BulkState(this.stateSize, this.seed);
  }

  describe(): Record<string, unknown> {
    const r = this.regs;
    return {
      kind: this.kind,
      name: this.name,
      runState: this.runState,
      health: this.health,
      enabled: (r.ctrl & NIC_CTRL_ENABLE) !== 0,
      txPackets: r.txPackets,
      rxPackets: r.rxPackets,
      rxDropped: r.rxDropped,
      txErrors: r.txErrors,
      p2pSent: r.p2pSent,
      p2pReceived: r.p2pReceived,
      p2pLast: r.p2pLast,
      queues: r.queues.map((Q, i) => ({
        queue: i,
        tx: { base: Q.txBase, size: Q.txSize, head: Q.txHead, tail: Q.txTail, stalledOnP2p: Q.stalled === 1 },
        rx: { base: Q.rxBase, size: Q.rxSize, head: Q.rxHead, tail: Q.rxTail },
        wire: this.ingress[i]!.length,
      })),
      stateBytes: this.stateSize,
      stateDigest: this.bulk.digest().toString(16).padStart(8, "0"),
      counters: { ...this.counters },
    };
  }
}

class NicSaveStream implements SaveStream {
  mode: "pre-copy" | "stop-copy";
  closed = false;
  private headerSent = false;
  private cursor = 0;
  private readonly dirty = new Set<number>();
  private regsSent = false;
  private endSent = false;
  private chunkKind: "initial" | "dirty" | "final" | null = null;
  private readonly pull: PullStream;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly nic: NicVf,
    preCopy: boolean,
  ) {
    this.mode = preCopy ? "pre-copy" : "stop-copy";
    // A page changed after it was streamed must be streamed again.
    this.unsubscribe = nic.bulk.onTouch((page) => {
      if (page < this.cursor) this.dirty.add(page);
    });
    this.pull = new PullStream(() => this.next());
  }

  private next(): Uint8Array | null {
    const nic = this.nic;
    if (!this.headerSent) {
      this.headerSent = true;
      this.chunkKind = "initial";
      return encodeRecord(TAG_HEADER, nic.headerPayload());
    }
    if (this.cursor < nic.bulk.pages) {
      this.chunkKind = "initial";
      return nic.pageRecord(this.cursor++);
    }
    const first = this.dirty.values().next();
    if (!first.done) {
      this.dirty.delete(first.value);
      this.chunkKind = "dirty";
      return nic.pageRecord(first.value);
    }
    if (this.mode === "stop-copy") {
      if (!this.regsSent) {
        this.regsSent = true;
        this.chunkKind = "final";
        return encodeRecord(TAG_REGS, nic.encodeRegs());
      }
      if (!this.endSent) {
        this.endSent = true;
        this.chunkKind = "final";
        return encodeRecord(TAG_END, new Uint8Array(0));
      }
    }
    this.chunkKind = null;
    return null;
  }

  private check(): void {
    if (this.closed) throw new DeviceMigrationError("session-closed", "save session has ended");
  }

  read(max: number): Uint8Array {
    this.check();
    return this.pull.read(max);
  }

  initialBytes(): number {
    const buffered = this.chunkKind === "initial" ? this.pull.buffered : 0;
    const header = this.headerSent ? 0 : RECORD_HEADER_SIZE + HEADER_PAYLOAD;
    return buffered + header + this.nic.pageRecordBytes(this.cursor);
  }

  dirtyBytes(): number {
    const buffered = this.chunkKind === "dirty" ? this.pull.buffered : 0;
    let n = 0;
    for (const p of this.dirty) n += RECORD_HEADER_SIZE + PAGE_PREFIX + this.nic.bulk.pageLength(p);
    return buffered + n;
  }

  remainingBytes(): number {
    const finalBuffered = this.chunkKind === "final" ? this.pull.buffered : 0;
    const regs = this.regsSent ? 0 : this.nic.regsRecordBytes();
    const end = this.endSent ? 0 : RECORD_HEADER_SIZE;
    return this.initialBytes() + this.dirtyBytes() + finalBuffered + regs + end;
  }

  finishPreCopy(): void {
    this.check();
    if (this.mode !== "pre-copy") throw new DeviceMigrationError("invalid-state", "stream is already in stop-copy");
    if (this.nic.runState !== "stopped") throw new DeviceMigrationError("invalid-state", "stop the device before stop-copy");
    this.mode = "stop-copy";
  }

  get complete(): boolean {
    return this.mode === "stop-copy" && this.endSent && this.pull.buffered === 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
  }
}

class NicResumeStream implements ResumeStream {
  closed = false;
  bytesWritten = 0;
  private readonly parser: RecordParser;
  private seed: number | null = null;
  private versions: Uint32Array | null = null;
  private received: Uint8Array | null = null;
  private receivedCount = 0;
  private regs: ReturnType<NicVf["decodeRegs"]> | null = null;
  private ended = false;
  private broken: DeviceMigrationError | null = null;
  private readonly scratch = new Uint8Array(BULK_PAGE_SIZE);

  constructor(private readonly nic: NicVf) {
    this.parser = new RecordParser(
      (tag, flags) => {
        if (tag === TAG_HEADER) return HEADER_PAYLOAD;
        if (tag === TAG_PAGE) return PAGE_PREFIX + BULK_PAGE_SIZE;
        if (tag === TAG_REGS) return nic.regsRecordBytes() - RECORD_HEADER_SIZE;
        if (tag === TAG_END) return 0;
        if (flags & RECORD_FLAG_OPTIONAL) return 1 << 20;
        throw new DeviceMigrationError("corrupt", `unknown record tag ${tag}`);
      },
      (r) => this.onRecord(r),
    );
  }

  private onRecord(r: ParsedRecord): void {
    const nic = this.nic;
    if (this.ended) throw new DeviceMigrationError("corrupt", "data after the END record");
    if (r.tag === TAG_HEADER) {
      if (this.seed !== null) throw new DeviceMigrationError("corrupt", "second HEADER record");
      const v = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.length);
      if (r.payload.length !== HEADER_PAYLOAD || v.getUint32(0, true) !== STREAM_MAGIC || v.getUint32(24, true) !== crc32(r.payload.subarray(0, 24))) {
        throw new DeviceMigrationError("bad-header", "not a NIC state stream");
      }
      if (v.getUint16(4, true) !== STREAM_VERSION) throw new DeviceMigrationError("incompatible", `stream version ${v.getUint16(4, true)}`);
      if (v.getUint16(6, true) !== nic.queueCount || Number(v.getBigUint64(8, true)) !== nic.stateSize || v.getUint32(16, true) !== BULK_PAGE_SIZE) {
        throw new DeviceMigrationError("incompatible", "stream from a NIC with a different queue count or state size");
      }
      this.seed = v.getUint32(20, true);
      const pages = Math.ceil(nic.stateSize / BULK_PAGE_SIZE);
      this.versions = new Uint32Array(pages);
      this.received = new Uint8Array(pages);
      return;
    }
    if (this.seed === null || !this.versions || !this.received) throw new DeviceMigrationError("bad-header", "stream does not start with a HEADER record");
    if (r.tag === TAG_PAGE) {
      const v = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.length);
      if (r.payload.length < PAGE_PREFIX) throw new DeviceMigrationError("corrupt", "short PAGE record");
      const index = v.getUint32(0, true);
      const version = v.getUint32(4, true);
      if (index >= this.versions.length) throw new DeviceMigrationError("corrupt", `page ${index} out of range`);
      const len = Math.min(BULK_PAGE_SIZE, nic.stateSize - index * BULK_PAGE_SIZE);
      if (r.payload.length !== PAGE_PREFIX + len) throw new DeviceMigrationError("corrupt", `page ${index} has ${r.payload.length - PAGE_PREFIX} bytes`);
      // The content must be what the source's state generator gives for this page and version.
      generateBulkPage(this.seed, index, version, this.scratch, 0, len);
      const body = Buffer.from(r.payload.buffer, r.payload.byteOffset + PAGE_PREFIX, len);
      if (!body.equals(Buffer.from(this.scratch.buffer, 0, len))) {
        throw new DeviceMigrationError("corrupt", `page ${index} content does not match its version`);
      }
      this.versions[index] = version;
      if (!this.received[index]) {
        this.received[index] = 1;
        this.receivedCount++;
      }
      return;
    }
    if (r.tag === TAG_REGS) {
      this.regs = nic.decodeRegs(r.payload);
      return;
    }
    if (r.tag === TAG_END) {
      this.ended = true;
      return;
    }
    // unknown optional record: skipped
  }

  write(bytes: Uint8Array): number {
    if (this.closed) throw new DeviceMigrationError("session-closed", "resume session has ended");
    if (this.broken) throw this.broken;
    try {
      this.parser.push(bytes);
    } catch (e) {
      if (e instanceof DeviceMigrationError) this.broken = e;
      throw e;
    }
    this.bytesWritten += bytes.length;
    return bytes.length;
  }

  finish(): void {
    if (this.closed) throw new DeviceMigrationError("session-closed", "resume session has ended");
    if (this.broken) throw this.broken;
    if (this.seed === null || !this.versions) throw new DeviceMigrationError("incomplete", "no HEADER record received");
    if (this.receivedCount !== this.versions.length) {
      throw new DeviceMigrationError("incomplete", `${this.versions.length - this.receivedCount} of ${this.versions.length} state pages missing`);
    }
    if (!this.regs) throw new DeviceMigrationError("incomplete", "no REGS record received");
    if (!this.ended || !this.parser.atBoundary) throw new DeviceMigrationError("incomplete", "stream ended before its END record");
    this.nic.applyState(this.regs, new BulkState(this.nic.stateSize, this.seed, this.versions));
    this.close();
  }

  close(): void {
    this.closed = true;
  }
}
