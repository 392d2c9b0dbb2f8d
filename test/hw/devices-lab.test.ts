import { describe, expect, it } from "vitest";
import { NicVf, NIC_REGS } from "../../hw-emu/hw/devices/nic-vf.js";
import { SerialMdev, UART_RX } from "../../hw-emu/hw/devices/serial-mdev.js";
import { AccelVf } from "../../hw-emu/hw/devices/accel-vf.js";
import { FaultyDevice } from "../../hw-emu/hw/devices/faulty.js";
import { nicDriverFor } from "../../hw-emu/lab/guest-drivers.js";
import { InterruptLog } from "../../hw-emu/hw/pci/interrupt-log.js";
import { deviceSnapshot, deviceState, lostP2pWrites, pendingInterrupts, scheduleTraffic, triggerTraffic } from "../../hw-emu/lab/devices.js";
import { enableMsix, machine } from "./devices-fixture.js";

function setup(seed: number) {
  const m = machine();
  const log = new InterruptLog(m.clock);
  const mk = (rid: number, base: number) => {
    const nic = new NicVf({ name: `nic${rid.toString(16)}`, dma: m.dma, time: m.clock, stateSize: 16384, seed, interruptLog: log });
    m.plug(nic.fn, rid);
    enableMsix(nic.fn, nic.msix);
    const drv = nicDriverFor(nic, m.view, { base, ringSize: 8, bufferSize: 512 });
    drv.init();
    return { nic, drv };
  };
  return { m, log, a: mk(0x10, 0x10_0000), b: mk(0x18, 0x20_0000) };
}

describe("device lab functions", () => {
  it("show pending interrupts: masked MSI-X vectors sit in the PBA", () => {
    const { a } = setup(1);
    a.nic.fn.mmioWrite(0, NIC_REGS.MSIX_TABLE + 12, 4, 1); // mask vector 0
    triggerTraffic(a.nic, { packets: 2, queue: 0 });
    const p = pendingInterrupts(a.nic);
    expect(p).toMatchObject({ kind: "msix", vectors: [0], held: false });
    expect(p.pba![0]).toBe(1);
    a.nic.stop();
    expect(pendingInterrupts(a.nic).held).toBe(true);
    const ser = new SerialMdev();
    expect(pendingInterrupts(ser)).toMatchObject({ kind: "mdev", vectors: [] });
    const acc = new AccelVf();
    expect(pendingInterrupts(new FaultyDevice(acc, "short-stream"))).toMatchObject({ kind: "msi", vectors: [] });
  });

  it("show internal state, snapshots and lost peer writes per device", () => {
    const { m, a, b } = setup(1);
    triggerTraffic(a.nic, { packets: 3, queue: 1, churnPages: 2 });
    const st = deviceState(a.nic);
    expect(st).toMatchObject({ kind: "nic-vf", address: "0000:00:02.0", runState: "running", rxPackets: 3, health: "ok" });
    expect(deviceSnapshot(a.nic)).toEqual(a.nic.save());
    const peerB = m.mapPeerBar(b.nic.fn, 0);
    b.nic.stop();
    a.drv.sendPeerDoorbell(0, peerB + NIC_REGS.MAILBOX, 5);
    const lost = lostP2pWrites(m.dma, [a.nic, b.nic]);
    expect(lost[0]).toMatchObject({ refusedByDevice: 0, lost: [] });
    expect(lost[1]!.refusedByDevice).toBe(1);
    expect(lost[1]!.lost).toHaveLength(1);
    expect(lost[1]!.lost[0]!.source).toBe(a.nic.name);
  });

  it("scheduled traffic runs on the simulated clock", () => {
    const { m, a } = setup(1);
    const t = scheduleTraffic(m.clock, a.nic, { intervalNs: 1000, count: 5, size: 64 });
    m.clock.advance(3500);
    expect(t.delivered).toBe(3);
    m.clock.runAll();
    expect(t.delivered).toBe(5);
    expect(a.drv.reapRx(0)).toHaveLength(5);
    const ser = new SerialMdev();
    const s = scheduleTraffic(m.clock, ser, { intervalNs: 10, seed: 4 });
    m.clock.advance(30);
    s.stop();
    m.clock.advance(100);
    expect(s.delivered).toBe(3);
    expect([0, 1, 2].map(() => ser.portRead(0, UART_RX))).toHaveLength(3);
    expect(() => triggerTraffic(new AccelVf())).toThrow(/guest driver/);
  });

  it("is deterministic: the same seed gives identical interrupt logs, DMA traces and state", () => {
    const run = () => {
      const { m, log, a, b } = setup(7);
      scheduleTraffic(m.clock, a.nic, { intervalNs: 700, count: 20, seed: 3, churnPages: 1 });
      scheduleTraffic(m.clock, b.nic, { intervalNs: 1100, count: 10, seed: 4, queue: 1 });
      m.clock.advance(5000);
      a.nic.stop();
      m.clock.advance(5000);
      a.nic.run();
      m.clock.runAll();
      a.drv.reapRx(0);
      b.drv.reapRx(1);
      return {
        log: log.entries.map((e) => ({ ...e })),
        trace: a.nic.dmaTrace.map((e) => ({ ...e })),
        state: [...a.nic.save(), ...b.nic.save()],
        cfg: [...a.nic.fn.config.snapshot()],
      };
    };
    const first = run();
    expect(first.log.length).toBeGreaterThan(10);
    // nothing is signalled while the device is stopped
    expect(first.log.filter((e) => e.source === "nic10" && e.time > 5000 && e.time < 10000 && e.outcome === "delivered")).toEqual([]);
    expect(run()).toEqual(first);
  });
});
