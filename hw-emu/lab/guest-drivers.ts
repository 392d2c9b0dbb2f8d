/**
 * The guest-side drivers of the NIC and accelerator models, the one set everything uses:
 * they lay out rings and buffers in guest memory and program the device through BAR0, the
 * way a guest OS driver does. Lab checks and tests use them to give devices real DMA work;
 * the simulated VM's guest runs them across a migration (with register access that follows
 * the VM from host to host, and doorbells that land a little later, as posted writes do).
 * Memory is reached through a GuestView at IOVA addresses (identity-mapped setups can use the
 * memory itself).
 */
import type { Clock, ScheduledEvent } from "../sim/clock.js";
import type { GuestMemory } from "../hw/memory.js";
import type { PciFunction } from "../hw/pci/function.js";
import type { MigratableDevice } from "../hw/devices/migration.js";
import { ACCEL_DESC_SIZE, ACCEL_REGS } from "../hw/devices/accel-vf.js";
import { NIC_CTRL_ENABLE, NIC_CTRL_MAILBOX_IRQ, NIC_DESC_SIZE, NIC_QUEUE_REGS, NIC_REGS, NIC_TX_OP_P2P, NIC_TX_OP_SEND } from "../hw/devices/nic-vf.js";
import { AccelVf } from "../hw/devices/accel-vf.js";
import { NicVf } from "../hw/devices/nic-vf.js";
import { modelOf } from "./devices.js";

/** How a guest driver touches memory at an IOVA (through whatever translation the lab set up). */
export interface GuestView {
  read(iova: number, length: number): Uint8Array;
  write(iova: number, data: Uint8Array): void;
}

/** A view for setups where every IOVA equals its guest physical address. */
export function identityView(mem: GuestMemory): GuestView {
  return { read: (a, n) => mem.read(a, n), write: (a, d) => mem.write(a, d) };
}

/** 32-bit access to a device's BAR0 registers, as its driver makes it. */
export interface BarRegisters {
  read(offset: number): number;
  write(offset: number, value: number): void;
}

/** BAR0 of a device model, accessed directly: an access the device refuses throws. */
export function bar0(device: { readonly fn: PciFunction }): BarRegisters {
  const fn = device.fn;
  return { read: (off) => fn.mmioRead(0, off, 4), write: (off, v) => fn.mmioWrite(0, off, 4, v >>> 0) };
}

/**
 * BAR0 as a guest reaches it through its own mapping of the BAR: a read the device refuses
 * (memory decoding off after a reset) returns all ones, a refused write is dropped.
 */
export function guestBar0(device: MigratableDevice): BarRegisters {
  const fn = modelOf(device).fn;
  return {
    read(off) {
      try {
        return fn.mmioRead(0, off, 4);
      } catch {
        return 0xffffffff;
      }
    },
    write(off, v) {
      try {
        fn.mmioWrite(0, off, 4, v >>> 0);
      } catch {
        // dropped, as a write to a BAR that no longer decodes is
      }
    },
  };
}

/** Register access that is looked up on every driver call (the device may change under the driver). */
export type RegisterSource = BarRegisters | (() => BarRegisters);

const resolve = (r: RegisterSource): BarRegisters => (typeof r === "function" ? r() : r);

/**
 * Posted MMIO writes in flight, per device. A write lands after the latency; a read of the
 * same device, or a state change the VMM makes on it (the host driver's own accesses), first
 * lets every earlier write to it land, as PCIe ordering requires.
 */
export class PostedWrites {
  private readonly inFlight = new Map<number, { ev: ScheduledEvent; apply: () => void }[]>();

  constructor(private readonly clock: Clock) {}

  post(device: number, latencyNs: number, apply: () => void): void {
    const list = this.inFlight.get(device) ?? [];
    this.inFlight.set(device, list);
    const item = {
      apply,
      ev: this.clock.after(latencyNs, () => {
        const i = list.indexOf(item);
        if (i >= 0) list.splice(i, 1);
        apply();
      }, "posted doorbell"),
    };
    list.push(item);
  }

  /** Land every write still in flight to `device`, oldest first. */
  flush(device: number): void {
    const list = this.inFlight.get(device);
    if (!list) return;
    while (list.length > 0) {
      const item = list.shift()!;
      item.ev.cancel();
      item.apply();
    }
  }

  /** writes in flight to `device` */
  pending(device: number): number {
    return this.inFlight.get(device)?.length ?? 0;
  }
}

/** Doorbells (TX tail writes) sent as posted writes that land `latencyNs` later. */
export interface PostedDoorbells {
  writes: PostedWrites;
  /** the device's key in `writes` */
  device: number;
  latencyNs: number;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

export interface NicDriverOptions {
  /** first IOVA of the driver's memory (4 KiB aligned) */
  base: number;
  /** queue pairs to set up */
  queues: number;
  /** descriptors per ring, a power of two (default 64) */
  ringSize?: number;
  /** bytes per packet buffer (default 2048) */
  bufferSize?: number;
  /** raise per-queue MSI-X vectors and mailbox interrupts (default true) */
  interrupts?: boolean;
  /** keep transmit buffers (default true); a driver that sends only peer doorbells needs none */
  txBuffers?: boolean;
  /** send TX doorbells as posted writes (default: each lands at once) */
  posted?: PostedDoorbells;
}

export interface ReceivedPacket {
  queue: number;
  data: Uint8Array;
  status: number;
}

/**
 * Per queue, from `base + q * stride`: the TX ring and the RX ring, page aligned together,
 * then the TX buffers (when kept) and the RX buffers.
 */
export class NicGuestDriver {
  readonly queues: number;
  readonly ringSize: number;
  readonly bufferSize: number;
  private readonly txBuffers: boolean;
  private readonly stride: number;
  private readonly txNext: number[];
  private readonly txHeadSeen: number[];
  private readonly rxSeen: number[];

  constructor(
    private readonly regs: RegisterSource,
    readonly mem: GuestView,
    readonly opts: NicDriverOptions,
  ) {
    this.queues = opts.queues;
    this.ringSize = opts.ringSize ?? 64;
    this.bufferSize = opts.bufferSize ?? 2048;
    this.txBuffers = opts.txBuffers ?? true;
    if (this.ringSize < 2 || (this.ringSize & (this.ringSize - 1)) !== 0) throw new RangeError("ring size must be a power of two >= 2");
    if (opts.base % 4096 !== 0) throw new RangeError("driver memory must be 4 KiB aligned");
    this.stride = NicGuestDriver.queueStride(opts);
    this.txNext = new Array<number>(this.queues).fill(0);
    this.txHeadSeen = new Array<number>(this.queues).fill(0);
    this.rxSeen = new Array<number>(this.queues).fill(0);
  }

  private static queueStride(o: Omit<NicDriverOptions, "base">): number {
    const ring = o.ringSize ?? 64;
    const buffers = (o.txBuffers ?? true ? 2 : 1) * ring * (o.bufferSize ?? 2048);
    return align(2 * ring * NIC_DESC_SIZE, 4096) + align(buffers, 4096);
  }

  /** Bytes of guest memory a driver with these options uses from its base. */
  static footprint(o: Omit<NicDriverOptions, "base">): number {
    return NicGuestDriver.queueStride(o) * o.queues;
  }

  get footprint(): number {
    return this.stride * this.queues;
  }

  txRing(q: number): number {
    return this.opts.base + q * this.stride;
  }
  rxRing(q: number): number {
    return this.txRing(q) + this.ringSize * NIC_DESC_SIZE;
  }
  private buffers(q: number): number {
    return this.txRing(q) + align(2 * this.ringSize * NIC_DESC_SIZE, 4096);
  }
  txBuffer(q: number, slot: number): number {
    if (!this.txBuffers) throw new Error("this NIC driver keeps no transmit buffers");
    return this.buffers(q) + slot * this.bufferSize;
  }
  rxBuffer(q: number, slot: number): number {
    return this.buffers(q) + ((this.txBuffers ? this.ringSize : 0) + slot) * this.bufferSize;
  }

  readReg(off: number): number {
    return resolve(this.regs).read(off);
  }

  private qreg(q: number, r: number): number {
    return NIC_REGS.QUEUE_BASE + q * NIC_REGS.QUEUE_STRIDE + r;
  }

  private flushPosted(): void {
    const p = this.opts.posted;
    if (p) p.writes.flush(p.device);
  }

  /** Programs every queue, posts all receive buffers and enables the device. */
  init(): void {
    const regs = resolve(this.regs);
    const irq = this.opts.interrupts ?? true;
    for (let q = 0; q < this.queues; q++) {
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
      regs.write(this.qreg(q, NIC_QUEUE_REGS.TX_BASE_LO), tx % 2 ** 32);
      regs.write(this.qreg(q, NIC_QUEUE_REGS.TX_BASE_HI), Math.floor(tx / 2 ** 32));
      regs.write(this.qreg(q, NIC_QUEUE_REGS.TX_SIZE), this.ringSize);
      regs.write(this.qreg(q, NIC_QUEUE_REGS.RX_BASE_LO), rx % 2 ** 32);
      regs.write(this.qreg(q, NIC_QUEUE_REGS.RX_BASE_HI), Math.floor(rx / 2 ** 32));
      regs.write(this.qreg(q, NIC_QUEUE_REGS.RX_SIZE), this.ringSize);
      regs.write(this.qreg(q, NIC_QUEUE_REGS.IRQ), irq ? 1 : 0);
      // One slot stays empty so that head == tail means "no buffers".
      regs.write(this.qreg(q, NIC_QUEUE_REGS.RX_TAIL), this.ringSize - 1);
    }
    regs.write(NIC_REGS.CTRL, NIC_CTRL_ENABLE | (irq ? NIC_CTRL_MAILBOX_IRQ : 0));
  }

  /**
   * Writes a TX descriptor and rings the tail; returns its slot, or null when the ring is
   * full (the device has not consumed the oldest descriptor yet).
   */
  private tryPost(q: number, desc: Uint8Array): number | null {
    const regs = resolve(this.regs);
    const slot = this.txNext[q]!;
    const next = (slot + 1) & (this.ringSize - 1);
    if (next === this.txHeadSeen[q]) {
      this.flushPosted();
      const h = regs.read(this.qreg(q, NIC_QUEUE_REGS.TX_HEAD));
      if (h < this.ringSize) this.txHeadSeen[q] = h;
      if (next === this.txHeadSeen[q]) return null;
    }
    this.mem.write(this.txRing(q) + slot * NIC_DESC_SIZE, desc);
    this.txNext[q] = next;
    const off = this.qreg(q, NIC_QUEUE_REGS.TX_TAIL);
    const p = this.opts.posted;
    if (p) p.writes.post(p.device, p.latencyNs, () => regs.write(off, next));
    else regs.write(off, next);
    return slot;
  }

  private post(q: number, desc: Uint8Array): number {
    const slot = this.tryPost(q, desc);
    if (slot === null) throw new Error(`NIC queue ${q}: the transmit ring is full`);
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

  private peerDescriptor(peerIova: number, value: number): Uint8Array {
    const d = new Uint8Array(NIC_DESC_SIZE);
    const v = new DataView(d.buffer);
    v.setBigUint64(0, BigInt(peerIova), true);
    v.setUint32(8, value >>> 0, true);
    v.setUint8(12, NIC_TX_OP_P2P);
    return d;
  }

  /** Queues a peer doorbell: the device writes `value` to `peerIova` (another device's BAR). Throws when the ring is full. */
  sendPeerDoorbell(q: number, peerIova: number, value: number): number {
    return this.post(q, this.peerDescriptor(peerIova, value));
  }

  /** As sendPeerDoorbell, but a full ring gives null (the doorbell is not sent). */
  tryPeerDoorbell(q: number, peerIova: number, value: number): number | null {
    return this.tryPost(q, this.peerDescriptor(peerIova, value));
  }

  /** Status word of a TX descriptor (0 until the device completes it). */
  txStatus(q: number, slot: number): number {
    const d = this.mem.read(this.txRing(q) + slot * NIC_DESC_SIZE + 14, 2);
    return d[0]! | (d[1]! << 8);
  }

  /**
   * Walks the RX descriptors the device completed since the last walk, clearing each
   * write-back so the slot can be reused; returns the slots walked, or -1 when the head
   * register reads back nonsense (the device does not decode).
   */
  private walkRx(q: number, regs: BarRegisters, each: (slot: number) => void): number {
    this.flushPosted();
    const head = regs.read(this.qreg(q, NIC_QUEUE_REGS.RX_HEAD));
    if (head >= this.ringSize) return -1;
    let slot = this.rxSeen[q]!;
    let n = 0;
    const zero = new Uint8Array(4);
    while (slot !== head) {
      each(slot);
      this.mem.write(this.rxRing(q) + slot * NIC_DESC_SIZE + 12, zero);
      slot = (slot + 1) & (this.ringSize - 1);
      n++;
    }
    this.rxSeen[q] = slot;
    return n;
  }

  private rxTail(q: number): number {
    return (this.rxSeen[q]! - 1 + this.ringSize) & (this.ringSize - 1);
  }

  /** Collects the packets the device delivered since the last call and reposts their buffers. */
  reapRx(q: number): ReceivedPacket[] {
    const regs = resolve(this.regs);
    const out: ReceivedPacket[] = [];
    const n = this.walkRx(q, regs, (slot) => {
      const d = this.mem.read(this.rxRing(q) + slot * NIC_DESC_SIZE + 12, 4);
      const len = d[0]! | (d[1]! << 8);
      const status = d[2]! | (d[3]! << 8);
      out.push({ queue: q, status, data: this.mem.read(this.rxBuffer(q, slot), len) });
    });
    if (n >= 0) regs.write(this.qreg(q, NIC_QUEUE_REGS.RX_TAIL), this.rxTail(q));
    return out;
  }

  /**
   * Gives the buffers of delivered packets back without reading them (a guest whose network
   * stack is not modelled); rings the tail only when buffers were reposted. Returns how many.
   */
  refillRx(q: number): number {
    const regs = resolve(this.regs);
    const n = this.walkRx(q, regs, () => {});
    if (n > 0) regs.write(this.qreg(q, NIC_QUEUE_REGS.RX_TAIL), this.rxTail(q));
    return Math.max(n, 0);
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
  private headSeen = 0;

  constructor(
    private readonly regs: RegisterSource,
    readonly mem: GuestView,
    readonly opts: AccelDriverOptions,
  ) {
    this.queueSize = opts.queueSize ?? 64;
    if (opts.base % 4096 !== 0) throw new RangeError("queue memory must be 4 KiB aligned");
  }

  readReg(off: number): number {
    return resolve(this.regs).read(off);
  }

  init(key = 0): void {
    const regs = resolve(this.regs);
    this.mem.write(this.opts.base, new Uint8Array(this.queueSize * ACCEL_DESC_SIZE));
    regs.write(ACCEL_REGS.SQ_BASE_LO, this.opts.base % 2 ** 32);
    regs.write(ACCEL_REGS.SQ_BASE_HI, Math.floor(this.opts.base / 2 ** 32));
    regs.write(ACCEL_REGS.SQ_SIZE, this.queueSize);
    regs.write(ACCEL_REGS.KEY, key);
    regs.write(ACCEL_REGS.IRQ_ENABLE, this.opts.irqEnable ?? 3);
    regs.write(ACCEL_REGS.CTRL, 1);
  }

  /** Submits one job; returns its slot, or null when the queue is full (the device has not taken the oldest job). */
  trySubmit(op: number, src: number, dst: number, length: number): number | null {
    const regs = resolve(this.regs);
    const slot = this.next;
    const next = (slot + 1) & (this.queueSize - 1);
    if (next === this.headSeen) {
      const h = regs.read(ACCEL_REGS.SQ_HEAD);
      if (h < this.queueSize) this.headSeen = h;
      if (next === this.headSeen) return null;
    }
    const d = new Uint8Array(ACCEL_DESC_SIZE);
    const v = new DataView(d.buffer);
    v.setBigUint64(0, BigInt(src), true);
    v.setBigUint64(8, BigInt(dst), true);
    v.setUint32(16, length, true);
    v.setUint16(20, op, true);
    this.mem.write(this.opts.base + slot * ACCEL_DESC_SIZE, d);
    this.next = next;
    regs.write(ACCEL_REGS.SQ_TAIL, next);
    return slot;
  }

  /** Submits one job; returns its slot. Throws when the queue is full. */
  submit(op: number, src: number, dst: number, length: number): number {
    const slot = this.trySubmit(op, src, dst, length);
    if (slot === null) throw new Error("accelerator submission queue is full");
    return slot;
  }

  /** Status and result of a job (status 0 while pending). */
  result(slot: number): { status: number; result: number } {
    const d = this.mem.read(this.opts.base + slot * ACCEL_DESC_SIZE + 22, 6);
    const v = new DataView(d.buffer);
    return { status: v.getUint16(0, true), result: v.getUint32(2, true) };
  }
}

/** A driver for a NIC model over direct BAR0 access, on all of its queues unless `opts.queues` says fewer. */
export function nicDriverFor(device: MigratableDevice, mem: GuestView, opts: Omit<NicDriverOptions, "queues"> & { queues?: number }): NicGuestDriver {
  const m = modelOf(device);
  if (!(m instanceof NicVf)) throw new Error(`${m.name} is not a NIC`);
  return new NicGuestDriver(bar0(m), mem, { ...opts, queues: opts.queues ?? m.queueCount });
}

/** A driver for an accelerator model over direct BAR0 access. */
export function accelDriverFor(device: MigratableDevice, mem: GuestView, opts: AccelDriverOptions): AccelGuestDriver {
  const m = modelOf(device);
  if (!(m instanceof AccelVf)) throw new Error(`${m.name} is not an accelerator`);
  return new AccelGuestDriver(bar0(m), mem, opts);
}
