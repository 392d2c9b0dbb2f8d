/**
 * Minimal guest-side drivers for the NIC and accelerator models: they lay
 * out rings and buffers in guest memory, program the device through its BAR
 * and ring doorbells, the way a guest OS driver would. Labs and tests use
 * them to make the devices do real DMA. They reach guest memory through a
 * GuestView at IOVA addresses (identity-mapped setups can use the memory
 * itself).
 */
import type { GuestMemory } from "../hw/memory.js";
import { ACCEL_DESC_SIZE, ACCEL_REGS, type AccelVf } from "../hw/devices/accel-vf.js";
import {
  NIC_CTRL_ENABLE,
  NIC_CTRL_MAILBOX_IRQ,
  NIC_DESC_SIZE,
  NIC_QUEUE_REGS,
  NIC_REGS,
  NIC_TX_OP_P2P,
  NIC_TX_OP_SEND,
  type NicVf,
} from "../hw/devices/nic-vf.js";

/** How a guest driver touches memory at an IOVA (through whatever translation the lab set up). */
export interface GuestView {
  read(iova: number, length: number): Uint8Array;
  write(iova: number, data: Uint8Array): void;
}

/** A view for setups where every IOVA equals its guest physical address. */
export function identityView(mem: GuestMemory): GuestView {
  return { read: (a, n) => mem.read(a, n), write: (a, d) => mem.write(a, d) };
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

export interface NicDriverOptions {
  /** first IOVA of the driver's memory (4 KiB aligned) */
  base: number;
  /** descriptors per ring, a power of two (default 64) */
  ringSize?: number;
  /** bytes per packet buffer (default 2048) */
  bufferSize?: number;
  /** raise per-queue MSI-X vectors (default true) */
  interrupts?: boolean;
}

export interface ReceivedPacket {
  queue: number;
  data: Uint8Array;
  status: number;
}

export class NicGuestDriver {
  readonly ringSize: number;
  readonly bufferSize: number;
  private readonly stride: number;
  private readonly txNext: number[];
  private readonly rxSeen: number[];

  constructor(
    readonly nic: NicVf,
    readonly mem: GuestView,
    readonly opts: NicDriverOptions,
  ) {
    this.ringSize = opts.ringSize ?? 64;
    this.bufferSize = opts.bufferSize ?? 2048;
    if (this.ringSize < 2 || (this.ringSize & (this.ringSize - 1)) !== 0) throw new RangeError("ring size must be a power of two >= 2");
    if (opts.base % 4096 !== 0) throw new RangeError("driver memory must be 4 KiB aligned");
    this.stride = align(2 * this.ringSize * NIC_DESC_SIZE, 4096) + align(2 * this.ringSize * this.bufferSize, 4096);
    this.txNext = new Array<number>(nic.queueCount).fill(0);
    this.rxSeen = new Array<number>(nic.queueCount).fill(0);
  }

  /** Bytes of guest memory the driver uses from `base`. */
  get footprint(): number {
    return this.stride * this.nic.queueCount;
  }

  txRing(q: number): number {
    return this.opts.base + q * this.stride;
  }
  rxRing(q: number): number {
    return this.txRing(q) + this.ringSize * NIC_DESC_SIZE;
  }
  txBuffer(q: number, slot: number): number {
    return this.txRing(q) + align(2 * this.ringSize * NIC_DESC_SIZE, 4096) + slot * this.bufferSize;
  }
  rxBuffer(q: number, slot: number): number {
    return this.txBuffer(q, 0) + (this.ringSize + slot) * this.bufferSize;
  }

  private reg(off: number, v: number): void {
    this.nic.fn.mmioWrite(0, off, 4, v >>> 0);
  }

  readReg(off: number): number {
    return this.nic.fn.mmioRead(0, off, 4);
  }

  private qreg(q: number, r: number): number {
    return NIC_REGS.QUEUE_BASE + q * NIC_REGS.QUEUE_STRIDE + r;
  }

  /** Programs every queue, posts all receive buffers and enables the device. */
  init(): void {
    for (let q = 0; q < this.nic.queueCount; q++) {
      const tx = this.txRing(q);
      const rx = this.rxRing(q);
      this.mem.write(tx, new Uint8Array(this.ringSize * NIC_DESC_SIZE));
      const ring = new Uint8Array(this.ringSize * NIC_DESC_SIZE);
      const v = new DataView(ring.buffer);
      for (let s = 0; s < this.ringSize; s++) {
        v.setBigUint64(s * NIC_DESC_SIZE, BigInt(this.rxBuffer(q, s)), true);
        v.setUint32(s * NIC_DESC_SIZE + 8, this.bufferSize, true);
      }
      this.mem.write(rx, ring);
      this.reg(this.qreg(q, NIC_QUEUE_REGS.TX_BASE_LO), tx % 2 ** 32);
      this.reg(this.qreg(q, NIC_QUEUE_REGS.TX_BASE_HI), Math.floor(tx / 2 ** 32));
      this.reg(this.qreg(q, NIC_QUEUE_REGS.TX_SIZE), this.ringSize);
      this.reg(this.qreg(q, NIC_QUEUE_REGS.RX_BASE_LO), rx % 2 ** 32);
      this.reg(this.qreg(q, NIC_QUEUE_REGS.RX_BASE_HI), Math.floor(rx / 2 ** 32));
      this.reg(this.qreg(q, NIC_QUEUE_REGS.RX_SIZE), this.ringSize);
      this.reg(this.qreg(q, NIC_QUEUE_REGS.IRQ), this.opts.interrupts === false ? 0 : 1);
      // One slot stays empty so that head == tail means "no buffers".
      this.reg(this.qreg(q, NIC_QUEUE_REGS.RX_TAIL), this.ringSize - 1);
    }
    this.reg(NIC_REGS.CTRL, NIC_CTRL_ENABLE | (this.opts.interrupts === false ? 0 : NIC_CTRL_MAILBOX_IRQ));
  }

  private post(q: number, desc: Uint8Array): number {
    const slot = this.txNext[q]!;
    this.mem.write(this.txRing(q) + slot * NIC_DESC_SIZE, desc);
    this.txNext[q] = (slot + 1) & (this.ringSize - 1);
    this.reg(this.qreg(q, NIC_QUEUE_REGS.TX_TAIL), this.txNext[q]!);
    return slot;
  }

  /** Queues a packet for transmission; returns its descriptor slot. */
  send(q: number, payload: Uint8Array): number {
    if (payload.length > this.bufferSize) throw new RangeError(`packet of ${payload.length} bytes exceeds the ${this.bufferSize}-byte buffer`);
    const slot = this.txNext[q]!;
    this.mem.write(this.txBuffer(q, slot), payload);
    const d = new Uint8Array(NIC_DESC_SIZE);
    const v = new DataView(d.buffer);
    v.setBigUint64(0, BigInt(this.txBuffer(q, slot)), true);
    v.setUint32(8, payload.length, true);
    v.setUint8(12, NIC_TX_OP_SEND);
    return this.post(q, d);
  }

  /** Queues a peer doorbell: the device writes `value` to `peerIova` (another device's BAR). */
  sendPeerDoorbell(q: number, peerIova: number, value: number): number {
    const d = new Uint8Array(NIC_DESC_SIZE);
    const v = new DataView(d.buffer);
    v.setBigUint64(0, BigInt(peerIova), true);
    v.setUint32(8, value >>> 0, true);
    v.setUint8(12, NIC_TX_OP_P2P);
    return this.post(q, d);
  }

  /** Status word of a TX descriptor (0 until the device completes it). */
  txStatus(q: number, slot: number): number {
    const d = this.mem.read(this.txRing(q) + slot * NIC_DESC_SIZE + 14, 2);
    return d[0]! | (d[1]! << 8);
  }

  /** Collects packets the device delivered since the last call and reposts their buffers. */
  reapRx(q: number): ReceivedPacket[] {
    const head = this.readReg(this.qreg(q, NIC_QUEUE_REGS.RX_HEAD));
    const out: ReceivedPacket[] = [];
    let slot = this.rxSeen[q]!;
    while (slot !== head) {
      const d = this.mem.read(this.rxRing(q) + slot * NIC_DESC_SIZE + 12, 4);
      const len = d[0]! | (d[1]! << 8);
      const status = d[2]! | (d[3]! << 8);
      out.push({ queue: q, status, data: this.mem.read(this.rxBuffer(q, slot), len) });
      // Clear the write-back so the slot can be reused.
      this.mem.write(this.rxRing(q) + slot * NIC_DESC_SIZE + 12, new Uint8Array(4));
      slot = (slot + 1) & (this.ringSize - 1);
    }
    this.rxSeen[q] = slot;
    const tail = (slot - 1 + this.ringSize) & (this.ringSize - 1);
    this.reg(this.qreg(q, NIC_QUEUE_REGS.RX_TAIL), tail);
    return out;
  }
}

export interface AccelDriverOptions {
  /** IOVA of the submission queue (4 KiB aligned) */
  base: number;
  /** descriptors (default 64) */
  queueSize?: number;
  /** MSI vector enables: bit0 completion, bit1 error (default 3) */
  irqEnable?: number;
}

export class AccelGuestDriver {
  readonly queueSize: number;
  private next = 0;

  constructor(
    readonly dev: AccelVf,
    readonly mem: GuestView,
    readonly opts: AccelDriverOptions,
  ) {
    this.queueSize = opts.queueSize ?? 64;
    if (opts.base % 4096 !== 0) throw new RangeError("queue memory must be 4 KiB aligned");
  }

  private reg(off: number, v: number): void {
    this.dev.fn.mmioWrite(0, off, 4, v >>> 0);
  }

  readReg(off: number): number {
    return this.dev.fn.mmioRead(0, off, 4);
  }

  init(key = 0): void {
    this.mem.write(this.opts.base, new Uint8Array(this.queueSize * ACCEL_DESC_SIZE));
    this.reg(ACCEL_REGS.SQ_BASE_LO, this.opts.base % 2 ** 32);
    this.reg(ACCEL_REGS.SQ_BASE_HI, Math.floor(this.opts.base / 2 ** 32));
    this.reg(ACCEL_REGS.SQ_SIZE, this.queueSize);
    this.reg(ACCEL_REGS.KEY, key);
    this.reg(ACCEL_REGS.IRQ_ENABLE, this.opts.irqEnable ?? 3);
    this.reg(ACCEL_REGS.CTRL, 1);
  }

  /** Submits one job; returns its slot. */
  submit(op: number, src: number, dst: number, length: number): number {
    const slot = this.next;
    const d = new Uint8Array(ACCEL_DESC_SIZE);
    const v = new DataView(d.buffer);
    v.setBigUint64(0, BigInt(src), true);
    v.setBigUint64(8, BigInt(dst), true);
    v.setUint32(16, length, true);
    v.setUint16(20, op, true);
    this.mem.write(this.opts.base + slot * ACCEL_DESC_SIZE, d);
    this.next = (slot + 1) & (this.queueSize - 1);
    this.reg(ACCEL_REGS.SQ_TAIL, this.next);
    return slot;
  }

  /** Status and result of a job (status 0 while pending). */
  result(slot: number): { status: number; result: number } {
    const d = this.mem.read(this.opts.base + slot * ACCEL_DESC_SIZE + 22, 6);
    const v = new DataView(d.buffer);
    return { status: v.getUint16(0, true), result: v.getUint32(2, true) };
  }
}
