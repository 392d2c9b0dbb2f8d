/**
 * A NIC on an emulated host opened the way a VMM opens it (VmmHost: iommufd, guest RAM mapped
 * at IOVA 0), a guest driver that posts receive buffers on queue 0 and turns on the queue's
 * and the mailbox's interrupts, through the BAR region as QEMU forwards trapped guest writes.
 */
import { createEmuBackend, type EmulatedMachine } from "../../kernel-lib/backends/emu.js";
import { VmmHost } from "../../kernel-lib/vmm/host.js";
import { EmulatedMsix } from "../../kernel-lib/vmm/msix-emulation.js";
import { NIC_CTRL_ENABLE, NIC_CTRL_MAILBOX_IRQ, NIC_DESC_SIZE, NIC_QUEUE_REGS, NIC_REGS } from "../../hw-emu/hw/devices/nic-vf.js";
import type { Clock } from "../../hw-emu/sim/clock.js";

export const RING = 0x10000;
export const BUFFERS = 0x20000;
export const SLOTS = 64;
/** the guest's message for vector v (x86: local APIC 0, vector 0x40 + v) */
export const guestMessage = (v: number) => ({ address: 0xfee0_0000n, data: 0x40 + v });

export function openNic(seed: number, clock?: Clock): { machine: EmulatedMachine; host: VmmHost } {
  const machine = createEmuBackend({ seed, ...(clock ? { clock } : {}), devices: [{ model: "nic", stateSize: 64 << 10 }] });
  return { machine, host: VmmHost.open(machine, { ramSize: 1 << 20, backend: "iommufd" }) };
}

/** Memory decoding and bus mastering on, receive ring on queue 0, queue and mailbox interrupts on. */
export function startGuestDriver(host: VmmHost): void {
  const d = host.devices[0]!;
  d.writeConfigU16(4, d.readConfigU16(4) | 0x6);
  const ring = new Uint8Array(SLOTS * NIC_DESC_SIZE);
  const v = new DataView(ring.buffer);
  for (let s = 0; s < SLOTS; s++) {
    v.setBigUint64(s * NIC_DESC_SIZE, BigInt(BUFFERS + s * 2048), true);
    v.setUint32(s * NIC_DESC_SIZE + 8, 2048, true);
  }
  host.ram.mapping.write(RING, ring);
  const bar = d.device.region(0);
  const q = NIC_REGS.QUEUE_BASE;
  bar.writeU32(q + NIC_QUEUE_REGS.RX_BASE_LO, RING);
  bar.writeU32(q + NIC_QUEUE_REGS.RX_BASE_HI, 0);
  bar.writeU32(q + NIC_QUEUE_REGS.RX_SIZE, SLOTS);
  bar.writeU32(q + NIC_QUEUE_REGS.RX_TAIL, SLOTS - 1);
  bar.writeU32(q + NIC_QUEUE_REGS.IRQ, 1);
  bar.writeU32(NIC_REGS.CTRL, NIC_CTRL_ENABLE | NIC_CTRL_MAILBOX_IRQ);
}

/** The guest programs every vector, unmasks them and enables MSI-X. */
export function guestEnablesMsix(msix: EmulatedMsix): void {
  for (let v = 0; v < msix.vectors; v++) {
    msix.writeEntry(v, guestMessage(v));
    msix.setMasked(v, false);
  }
  msix.setControl({ enabled: true });
}

/** A peer rings the NIC's mailbox: the NIC raises its mailbox vector (the last one). */
export function ringMailbox(host: VmmHost, value = 1): void {
  host.devices[0]!.device.region(0).writeU32(NIC_REGS.MAILBOX, value);
}
