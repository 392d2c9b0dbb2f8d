import { describe, expect, it } from "vitest";
import { NicVf, NIC_REGS } from "../../hw-emu/hw/devices/nic-vf.js";
import { AccelVf } from "../../hw-emu/hw/devices/accel-vf.js";
import { SerialMdev } from "../../hw-emu/hw/devices/serial-mdev.js";
import { FaultyDevice } from "../../hw-emu/hw/devices/faulty.js";
import { interruptEvents, msixTable } from "../../hw-emu/lab/devices.js";
import { enableMsix, machine } from "./devices-fixture.js";

describe("lab views of a device's interrupts", () => {
  it("the interrupt log: each firing and its outcome at the function, from a sequence number on", () => {
    const m = machine();
    const nic = new NicVf({ name: "nic", dma: m.dma, time: m.clock, stateSize: 16384 });
    m.plug(nic.fn, 0x10);
    nic.fn.mmioWrite(0, NIC_REGS.CTRL, 4, 0x2); // mailbox interrupt on
    nic.fn.mmioWrite(0, NIC_REGS.MAILBOX, 4, 1); // MSI-X still off: dropped
    enableMsix(nic.fn, nic.msix);
    nic.fn.mmioWrite(0, NIC_REGS.MAILBOX, 4, 2);
    const all = interruptEvents(nic);
    expect(all.map((e) => [e.vector, e.cause, e.outcome])).toEqual([
      [2, "fire", "dropped-disabled"],
      [2, "fire", "delivered"],
    ]);
    expect(interruptEvents(new FaultyDevice(nic, "short-stream"), all[1]!.seq)).toHaveLength(1);
    expect(interruptEvents(new AccelVf())).toEqual([]);
    expect(() => interruptEvents(new SerialMdev())).toThrow(/keeps no interrupt log/);
  });

  it("the hardware vector table: masked out of reset, the messages software wrote", () => {
    const m = machine();
    const nic = new NicVf({ name: "nic", dma: m.dma, time: m.clock, stateSize: 16384 });
    m.plug(nic.fn, 0x10);
    expect(msixTable(nic).map((e) => e.masked)).toEqual([true, true, true]);
    nic.fn.mmioWrite(0, NIC_REGS.MSIX_TABLE + 16 + 8, 4, 0x55);
    expect(msixTable(nic)[1]).toMatchObject({ vector: 1, data: 0x55, masked: true, pending: false });
    expect(() => msixTable(new AccelVf())).toThrow(/has no MSI-X table/);
  });
});
