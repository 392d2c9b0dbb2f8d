/**
 * Guest-side work for the lab checks: a guest driver that gives the device
 * real DMA to do. Work is split in two so guest writes never pass for device
 * writes: `prepare()` does everything the guest CPU writes (reposting
 * buffers, filling descriptors), `kick()` only makes the device act (a packet
 * arrives on the wire, a doorbell rings). Memory that changes between the
 * two was written by the device.
 */
import { lab } from "../backends/emu.js";
import type { Device } from "../vfio/device.js";
import { RAM_IOVA, type LabEnv, type OpenedEmuDevice } from "./lab-env.js";

/** Where each guest driver keeps its rings and buffers in guest RAM. */
const DUT_BASE = RAM_IOVA;
const PEER_BASE = RAM_IOVA + (1 << 20);
const ACCEL_SRC = RAM_IOVA + (64 << 10);
const ACCEL_DST = RAM_IOVA + (128 << 10);
const JOB_BYTES = 1024;

export interface DmaWorker {
  /** the guest's own writes for the next round */
  prepare(): void;
  /** make the device do (or, if it is stopped, hold) one round of DMA work */
  kick(round: number): void;
}

class NicWorker implements DmaWorker {
  readonly driver: lab.NicGuestDriver;

  constructor(
    env: LabEnv,
    readonly opened: OpenedEmuDevice,
    base: number,
  ) {
    env.enableDma(opened.device);
    this.driver = lab.nicDriverFor(opened.entry.model, env.ram().view, { base, ringSize: 16, bufferSize: 4096, interrupts: false });
    this.driver.init();
  }

  prepare(): void {
    for (let q = 0; q < this.driver.queues; q++) this.driver.reapRx(q);
  }

  kick(round: number): void {
    lab.triggerTraffic(this.opened.entry.model, { packets: 3, size: 600, seed: 0x1000 + round });
  }
}

class AccelWorker implements DmaWorker {
  private tail = 0;
  private readonly queueSize = 16;

  constructor(
    private readonly env: LabEnv,
    private readonly device: Device,
    accel: lab.MigratableDevice,
  ) {
    env.enableDma(device);
    lab.accelDriverFor(accel, env.ram().view, { base: DUT_BASE, queueSize: this.queueSize, irqEnable: 0 }).init();
    const src = new Uint8Array(JOB_BYTES);
    for (let i = 0; i < src.length; i++) src[i] = (i * 37 + 11) & 0xff;
    env.ram().view.write(ACCEL_SRC, src);
  }

  /** Write the next job's descriptor: an XOR copy into a page of its own. */
  prepare(): void {
    const d = new Uint8Array(lab.ACCEL_DESC_SIZE);
    const v = new DataView(d.buffer);
    v.setBigUint64(0, BigInt(ACCEL_SRC), true);
    v.setBigUint64(8, BigInt(ACCEL_DST + (this.tail % 64) * 4096), true);
    v.setUint32(16, JOB_BYTES, true);
    v.setUint16(20, lab.ACCEL_OP_XOR, true);
    this.env.ram().view.write(DUT_BASE + this.tail * lab.ACCEL_DESC_SIZE, d);
  }

  /** Ring the doorbell through the BAR, as the guest's MMIO write reaches the device. */
  kick(): void {
    this.tail = (this.tail + 1) % this.queueSize;
    this.device.region(0).writeU32(lab.ACCEL_REGS.SQ_TAIL, this.tail);
  }
}

/** A worker for the device under test, or null when its model does no DMA. */
export function dmaWorker(env: LabEnv): DmaWorker | null {
  const m = env.model;
  const name = lab.modelName(m);
  if (name === "nic") return new NicWorker(env, env.dut, DUT_BASE);
  if (name === "accel") return new AccelWorker(env, env.dut.device, m);
  return null;
}

/** The NIC under test and the peer NIC, each with a guest driver, for peer-to-peer checks. */
export function p2pPair(env: LabEnv): { dut: lab.NicGuestDriver; peer: lab.NicGuestDriver; peerDevice: OpenedEmuDevice } {
  if (!env.peer) throw new Error("the lab has no peer device");
  const dut = new NicWorker(env, env.dut, DUT_BASE).driver;
  const peer = new NicWorker(env, env.peer, PEER_BASE).driver;
  return { dut, peer, peerDevice: env.peer };
}

/** Peer doorbells a NIC has received, read through its BAR by the uAPI. */
export function p2pReceived(device: Device): number {
  return device.region(0).readU32(lab.NIC_REGS.P2P_RECEIVED);
}

export const NIC_MAILBOX = lab.NIC_REGS.MAILBOX;
