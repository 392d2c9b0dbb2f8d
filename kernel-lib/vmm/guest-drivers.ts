/**
 * The simulated guest's device drivers. They keep their ring state in guest RAM
 * and in a few fields of their own (the guest kernel's memory), and reach the
 * device of whichever host the VM currently runs on, so they carry on across a
 * migration. Register writes go straight to the BAR, as a guest's do through an
 * EPT-mapped BAR; the peer-to-peer doorbell is a posted write that reaches the
 * device a little later (see PostedWrites), which is what leaves peer traffic in
 * flight when the vCPUs stop.
 */
import type { Clock, ScheduledEvent } from "../../hw-emu/sim/clock.js";
import type { PciFunction } from "../../hw-emu/hw/pci/function.js";
import { NIC_CTRL_ENABLE, NIC_CTRL_MAILBOX_IRQ, NIC_DESC_SIZE, NIC_QUEUE_REGS, NIC_REGS, NIC_TX_OP_P2P } from "../../hw-emu/hw/devices/nic-vf.js";
import { ACCEL_DESC_SIZE, ACCEL_OP_XOR, ACCEL_REGS } from "../../hw-emu/hw/devices/accel-vf.js";

/** How the guest kernel touches its RAM: stores go through the hypervisor's dirty log. */
export interface GuestMemoryAccess {
  read(gpa: number, length: number): Uint8Array;
  write(gpa: number, data: Uint8Array): void;
}

/**
 * Posted MMIO writes in flight, per device. A write lands after the latency; a
 * read of the same device, or a state change the VMM makes on it (the host
 * driver's own accesses), first lets every earlier write to it land, as PCIe
 * ordering requires.
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

/** A register access that the device may refuse (memory decoding off after a reset): the guest sees all ones. */
function mmioRead(fn: PciFunction, off: number): number {
  try {
    return fn.mmioRead(0, off, 4);
  } catch {
    return 0xffffffff;
  }
}

function mmioWrite(fn: PciFunction, off: number, v: number): void {
  try {
    fn.mmioWrite(0, off, 4, v >>> 0);
  } catch {
    // the write is dropped, as a write to a BAR that no longer decodes is
  }
}

export const NIC_RING = 64;
const NIC_BUFFER = 2048;

/**
 * A NIC driver: queue 0 receives packets (buffers posted in guest RAM, refilled
 * every tick); queue 1, when the NIC has one, carries peer doorbells.
 */
export class GuestNic {
  private readonly rxSeen: number[];
  private txNext = 0;
  private txHeadSeen = 0;
  /** peer doorbells the guest gave up on because the ring was full */
  skipped = 0;

  constructor(
    readonly device: number,
    private readonly fn: () => PciFunction,
    private readonly mem: GuestMemoryAccess,
    private readonly posted: PostedWrites,
    /** guest physical base of the driver's memory (4 KiB aligned) */
    readonly base: number,
    readonly queues: number,
  ) {
    this.rxSeen = new Array<number>(queues).fill(0);
  }

  static footprint(queues: number): number {
    return queues * NicQueueLayout.stride;
  }

  get p2pQueue(): number | null {
    return this.queues >= 2 ? 1 : null;
  }

  private q(q: number): NicQueueLayout {
    return new NicQueueLayout(this.base + q * NicQueueLayout.stride);
  }

  private reg(q: number, r: number): number {
    return NIC_REGS.QUEUE_BASE + q * NIC_REGS.QUEUE_STRIDE + r;
  }

  init(): void {
    const fn = this.fn();
    for (let q = 0; q < this.queues; q++) {
      const L = this.q(q);
      this.mem.write(L.tx, new Uint8Array(NIC_RING * NIC_DESC_SIZE));
      const ring = new Uint8Array(NIC_RING * NIC_DESC_SIZE);
      const v = new DataView(ring.buffer);
      for (let s = 0; s < NIC_RING; s++) {
        v.setBigUint64(s * NIC_DESC_SIZE, BigInt(L.buffer(s)), true);
        v.setUint32(s * NIC_DESC_SIZE + 8, NIC_BUFFER, true);
      }
      this.mem.write(L.rx, ring);
      mmioWrite(fn, this.reg(q, NIC_QUEUE_REGS.TX_BASE_LO), L.tx % 2 ** 32);
      mmioWrite(fn, this.reg(q, NIC_QUEUE_REGS.TX_BASE_HI), Math.floor(L.tx / 2 ** 32));
      mmioWrite(fn, this.reg(q, NIC_QUEUE_REGS.TX_SIZE), NIC_RING);
      mmioWrite(fn, this.reg(q, NIC_QUEUE_REGS.RX_BASE_LO), L.rx % 2 ** 32);
      mmioWrite(fn, this.reg(q, NIC_QUEUE_REGS.RX_BASE_HI), Math.floor(L.rx / 2 ** 32));
      mmioWrite(fn, this.reg(q, NIC_QUEUE_REGS.RX_SIZE), NIC_RING);
      mmioWrite(fn, this.reg(q, NIC_QUEUE_REGS.IRQ), 1);
      // one slot stays empty so that head == tail means "no buffers"
      mmioWrite(fn, this.reg(q, NIC_QUEUE_REGS.RX_TAIL), NIC_RING - 1);
    }
    mmioWrite(fn, NIC_REGS.CTRL, NIC_CTRL_ENABLE | NIC_CTRL_MAILBOX_IRQ);
  }

  /** Take the packets the NIC delivered on queue 0 and give their buffers back. */
  refillRx(): number {
    const q = 0;
    this.posted.flush(this.device);
    const fn = this.fn();
    const head = mmioRead(fn, this.reg(q, NIC_QUEUE_REGS.RX_HEAD));
    if (head === 0xffffffff || head >= NIC_RING) return 0;
    const L = this.q(q);
    let slot = this.rxSeen[q]!;
    let n = 0;
    const zero = new Uint8Array(4);
    while (slot !== head) {
      // clear the write-back so the slot can be reused
      this.mem.write(L.rx + slot * NIC_DESC_SIZE + 12, zero);
      slot = (slot + 1) & (NIC_RING - 1);
      n++;
    }
    this.rxSeen[q] = slot;
    if (n > 0) mmioWrite(fn, this.reg(q, NIC_QUEUE_REGS.RX_TAIL), (slot - 1 + NIC_RING) & (NIC_RING - 1));
    return n;
  }

  /**
   * Post a doorbell for a peer: a TX descriptor telling the NIC to write `value`
   * at `peerIova` (a peer's BAR), then the tail register as a posted write.
   */
  ringPeer(peerIova: number, value: number, latencyNs: number): boolean {
    const q = this.p2pQueue;
    if (q === null) return false;
    const next = (this.txNext + 1) & (NIC_RING - 1);
    if (next === this.txHeadSeen) {
      this.posted.flush(this.device);
      const h = mmioRead(this.fn(), this.reg(q, NIC_QUEUE_REGS.TX_HEAD));
      if (h < NIC_RING) this.txHeadSeen = h;
      if (next === this.txHeadSeen) {
        this.skipped++;
        return false;
      }
    }
    const d = new Uint8Array(NIC_DESC_SIZE);
    const v = new DataView(d.buffer);
    v.setBigUint64(0, BigInt(peerIova), true);
    v.setUint32(8, value >>> 0, true);
    v.setUint8(12, NIC_TX_OP_P2P);
    this.mem.write(this.q(q).tx + this.txNext * NIC_DESC_SIZE, d);
    this.txNext = next;
    const fn = this.fn();
    const off = this.reg(q, NIC_QUEUE_REGS.TX_TAIL);
    this.posted.post(this.device, latencyNs, () => mmioWrite(fn, off, next));
    return true;
  }
}

class NicQueueLayout {
  /** TX ring and RX ring in one page, then the RX buffers */
  static readonly stride = 4096 + NIC_RING * NIC_BUFFER;
  constructor(readonly tx: number) {}
  get rx(): number {
    return this.tx + NIC_RING * NIC_DESC_SIZE;
  }
  buffer(slot: number): number {
    return this.tx + 4096 + slot * NIC_BUFFER;
  }
}

const ACCEL_QUEUE = 64;
const ACCEL_JOB = 4096;
const ACCEL_TARGETS = 16;

/** An accelerator driver: XOR jobs from one source page into a rotating set of result pages. */
export class GuestAccel {
  private next = 0;
  private headSeen = 0;
  private target = 0;
  /** jobs the guest gave up on because the queue was full */
  skipped = 0;

  constructor(
    readonly device: number,
    private readonly fn: () => PciFunction,
    private readonly mem: GuestMemoryAccess,
    readonly base: number,
  ) {}

  static footprint(): number {
    return 4096 + ACCEL_JOB + ACCEL_TARGETS * ACCEL_JOB;
  }

  private get source(): number {
    return this.base + 4096;
  }

  private result(i: number): number {
    return this.base + 4096 + ACCEL_JOB + i * ACCEL_JOB;
  }

  init(key: number): void {
    const fn = this.fn();
    this.mem.write(this.base, new Uint8Array(ACCEL_QUEUE * ACCEL_DESC_SIZE));
    const src = new Uint8Array(ACCEL_JOB);
    for (let i = 0; i < src.length; i++) src[i] = (i * 31 + key) & 0xff;
    this.mem.write(this.source, src);
    mmioWrite(fn, ACCEL_REGS.SQ_BASE_LO, this.base % 2 ** 32);
    mmioWrite(fn, ACCEL_REGS.SQ_BASE_HI, Math.floor(this.base / 2 ** 32));
    mmioWrite(fn, ACCEL_REGS.SQ_SIZE, ACCEL_QUEUE);
    mmioWrite(fn, ACCEL_REGS.KEY, key);
    mmioWrite(fn, ACCEL_REGS.IRQ_ENABLE, 3);
    mmioWrite(fn, ACCEL_REGS.CTRL, 1);
  }

  submit(): boolean {
    const fn = this.fn();
    const next = (this.next + 1) & (ACCEL_QUEUE - 1);
    if (next === this.headSeen) {
      const h = mmioRead(fn, ACCEL_REGS.SQ_HEAD);
      if (h < ACCEL_QUEUE) this.headSeen = h;
      if (next === this.headSeen) {
        this.skipped++;
        return false;
      }
    }
    const d = new Uint8Array(ACCEL_DESC_SIZE);
    const v = new DataView(d.buffer);
    v.setBigUint64(0, BigInt(this.source), true);
    v.setBigUint64(8, BigInt(this.result(this.target)), true);
    v.setUint32(16, ACCEL_JOB, true);
    v.setUint16(20, ACCEL_OP_XOR, true);
    this.mem.write(this.base + this.next * ACCEL_DESC_SIZE, d);
    this.target = (this.target + 1) % ACCEL_TARGETS;
    this.next = next;
    mmioWrite(fn, ACCEL_REGS.SQ_TAIL, next);
    return true;
  }
}
