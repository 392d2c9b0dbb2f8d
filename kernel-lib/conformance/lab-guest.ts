/**
 * Guest-side work for the lab checks: a guest driver that gives the device
 * real DMA to do. Work is split in two so guest writes never pass for device
 * writes: `prepare()` does everything the guest CPU writes (reposting
 * buffers, filling descriptors), `kick()` only makes the device act (a packet
 * arrives on the wire, a doorbell rings). Memory that changes between the
 * two was written by the device.
 */
import { ACCEL_DESC_SIZE, ACCEL_OP_XOR, ACCEL_REGS, AccelVf } from "../../hw-emu/hw/devices/accel-vf.js";
import { AccelGuestDriver, NicGuestDriver } from "../../hw-emu/lab/guest-drivers.js";
import { NIC_REGS, NicVf } from "../../hw-emu/hw/devices/nic-vf.js";
import { modelOf, triggerTraffic } from "../../hw-emu/lab/devices.js";
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
  readonly driver: NicGuestDriver;

  constructor(
    lab: LabEnv,
    readonly opened: OpenedEmuDevice,
    base: number,
  ) {
    lab.enableDma(opened.device);
    this.driver = new NicGuestDriver(nicOf(opened), lab.ram().view, { base, ringSize: 16, bufferSize: 4096, interrupts: false });
    this.driver.init();
  }

  prepare(): void {
    for (let q = 0; q < this.driver.nic.queueCount; q++) this.driver.reapRx(q);
  }

  kick(round: number): void {
    triggerTraffic(this.opened.entry.model, { packets: 3, size: 600, seed: 0x1000 + round });
  }
}

class AccelWorker implements DmaWorker {
  private tail = 0;
  private readonly queueSize = 16;

  constructor(
    private readonly lab: LabEnv,
    private readonly device: Device,
    private readonly accel: AccelVf,
  ) {
    lab.enableDma(device);
    new AccelGuestDriver(accel, lab.ram().view, { base: DUT_BASE, queueSize: this.queueSize, irqEnable: 0 }).init();
    const src = new Uint8Array(JOB_BYTES);
    for (let i = 0; i < src.length; i++) src[i] = (i * 37 + 11) & 0xff;
    lab.ram().view.write(ACCEL_SRC, src);
  }

  /** Write the next job's descriptor: an XOR copy into a page of its own. */
  prepare(): void {
    const d = new Uint8Array(ACCEL_DESC_SIZE);
    const v = new DataView(d.buffer);
    v.setBigUint64(0, BigInt(ACCEL_SRC), true);
    v.setBigUint64(8, BigInt(ACCEL_DST + (this.tail % 64) * 4096), true);
    v.setUint32(16, JOB_BYTES, true);
    v.setUint16(20, ACCEL_OP_XOR, true);
    this.lab.ram().view.write(DUT_BASE + this.tail * ACCEL_DESC_SIZE, d);
  }

  /** Ring the doorbell through the BAR, as the guest's MMIO write reaches the device. */
  kick(): void {
    this.tail = (this.tail + 1) % this.queueSize;
    this.device.region(0).writeU32(ACCEL_REGS.SQ_TAIL, this.tail);
  }
}

function nicOf(o: OpenedEmuDevice): NicVf {
  const m = modelOf(o.entry.model);
  if (!(m instanceof NicVf)) throw new Error(`${o.entry.name} is not a NIC`);
  return m;
}

/** A worker for the device under test, or null when its model does no DMA. */
export function dmaWorker(lab: LabEnv): DmaWorker | null {
  const m = lab.model;
  if (m instanceof NicVf) return new NicWorker(lab, lab.dut, DUT_BASE);
  if (m instanceof AccelVf) return new AccelWorker(lab, lab.dut.device, m);
  return null;
}

/** The NIC under test and the peer NIC, each with a guest driver, for peer-to-peer checks. */
export function p2pPair(lab: LabEnv): { dut: NicGuestDriver; peer: NicGuestDriver; peerDevice: OpenedEmuDevice } {
  if (!lab.peer) throw new Error("the lab has no peer device");
  const dut = new NicWorker(lab, lab.dut, DUT_BASE).driver;
  const peer = new NicWorker(lab, lab.peer, PEER_BASE).driver;
  return { dut, peer, peerDevice: lab.peer };
}

/** Peer doorbells a NIC has received, read through its BAR by the uAPI. */
export function p2pReceived(device: Device): number {
  return device.region(0).readU32(NIC_REGS.P2P_RECEIVED);
}

export const NIC_MAILBOX = NIC_REGS.MAILBOX;
