/**
 * What the simulated guest's drivers do with the lab's guest drivers. The drivers keep
 * their ring state in guest RAM and in a few fields of their own (the guest kernel's
 * memory), and reach the device of whichever host the VM currently runs on, so they carry
 * on across a migration. Register writes go straight to the BAR, as a guest's do through an
 * EPT-mapped BAR; the peer-to-peer doorbell is a posted write that reaches the device a
 * little later (lab.PostedWrites), which is what leaves peer traffic in flight when the
 * vCPUs stop.
 */
import { lab } from "../backends/emu.js";

/** How the guest kernel touches its RAM: stores go through the hypervisor's dirty log. */
export type GuestMemoryAccess = lab.GuestView;

export const NIC_RING = 64;
const NIC_BUFFER = 2048;
/** the NIC driver's layout: no transmit buffers (the guest sends only peer doorbells) */
const NIC_LAYOUT = { ringSize: NIC_RING, bufferSize: NIC_BUFFER, txBuffers: false } as const;

/**
 * A NIC driver: queue 0 receives packets (buffers posted in guest RAM, refilled every
 * tick); queue 1, when the NIC has one, carries peer doorbells.
 */
export class GuestNic {
  private readonly driver: lab.NicGuestDriver;
  /** peer doorbells the guest gave up on because the ring was full */
  skipped = 0;

  constructor(
    readonly device: number,
    regs: () => lab.BarRegisters,
    mem: GuestMemoryAccess,
    posted: lab.PostedWrites,
    doorbellLatencyNs: number,
    /** guest physical base of the driver's memory (4 KiB aligned) */
    readonly base: number,
    readonly queues: number,
  ) {
    this.driver = new lab.NicGuestDriver(regs, mem, { ...NIC_LAYOUT, base, queues, interrupts: true, posted: { writes: posted, device, latencyNs: doorbellLatencyNs } });
  }

  static footprint(queues: number): number {
    return lab.NicGuestDriver.footprint({ ...NIC_LAYOUT, queues });
  }

  get p2pQueue(): number | null {
    return this.queues >= 2 ? 1 : null;
  }

  init(): void {
    this.driver.init();
  }

  /** Take the packets the NIC delivered on queue 0 and give their buffers back. */
  refillRx(): number {
    return this.driver.refillRx(0);
  }

  /** Post a doorbell for a peer: the NIC writes `value` at `peerIova` (a peer's BAR). */
  ringPeer(peerIova: number, value: number): boolean {
    const q = this.p2pQueue;
    if (q === null) return false;
    if (this.driver.tryPeerDoorbell(q, peerIova, value) === null) {
      this.skipped++;
      return false;
    }
    return true;
  }
}

const ACCEL_QUEUE = 64;
const ACCEL_JOB = 4096;
const ACCEL_TARGETS = 16;

/** An accelerator driver: XOR jobs from one source page into a rotating set of result pages. */
export class GuestAccel {
  private readonly driver: lab.AccelGuestDriver;
  private target = 0;
  /** jobs the guest gave up on because the queue was full */
  skipped = 0;

  constructor(
    readonly device: number,
    regs: () => lab.BarRegisters,
    private readonly mem: GuestMemoryAccess,
    readonly base: number,
  ) {
    this.driver = new lab.AccelGuestDriver(regs, mem, { base, queueSize: ACCEL_QUEUE });
  }

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
    const src = new Uint8Array(ACCEL_JOB);
    for (let i = 0; i < src.length; i++) src[i] = (i * 31 + key) & 0xff;
    this.mem.write(this.source, src);
    this.driver.init(key);
  }

  submit(): boolean {
    if (this.driver.trySubmit(lab.ACCEL_OP_XOR, this.source, this.result(this.target), ACCEL_JOB) === null) {
      this.skipped++;
      return false;
    }
    this.target = (this.target + 1) % ACCEL_TARGETS;
    return true;
  }
}
