import { describe, expect, it } from "vitest";
import { ACCEL_REGS, AccelVf } from "../../hw-emu/hw/devices/accel-vf.js";
import { FAULT_ARCS, FAULT_RULES, FaultyDevice, applicableFaults, faultApplies } from "../../hw-emu/hw/devices/faulty.js";
import { nicDriverFor } from "../../hw-emu/lab/guest-drivers.js";
import { DeviceMigrationError, type MigratableDevice } from "../../hw-emu/hw/devices/migration.js";
import { NicVf, NIC_REGS } from "../../hw-emu/hw/devices/nic-vf.js";
import { SerialMdev, UART_TX } from "../../hw-emu/hw/devices/serial-mdev.js";
import { bytes, drain, enableMsix, machine } from "./devices-fixture.js";

type Machine = ReturnType<typeof machine>;

function nicOn(m: Machine, rid: number, base: number, stateSize = 32 * 1024) {
  const nic = new NicVf({ dma: m.dma, time: m.clock, stateSize });
  m.plug(nic.fn, rid);
  enableMsix(nic.fn, nic.msix);
  const drv = nicDriverFor(nic, m.view, { base, ringSize: 8, bufferSize: 256 });
  drv.init();
  return { nic, drv };
}

/** Moves a device through stop-copy and loads the stream into `dst`. */
function migrate(src: MigratableDevice, dst: MigratableDevice): void {
  src.stop();
  const data = drain(src.startSave({ preCopy: false }), 1000);
  dst.stop();
  const r = dst.startResume();
  r.write(data);
  r.finish();
}

describe("fault rules", () => {
  it("are exported as a list, with per-device applicability", () => {
    expect([...FAULT_RULES]).toEqual([
      "dma-after-stop",
      "p2p-during-running-p2p",
      "short-stream",
      "corrupt-stream",
      "arc-fails-to-error",
      "dirty-page-not-logged",
    ]);
    expect(applicableFaults(new NicVf({ stateSize: 4096 }))).toEqual([...FAULT_RULES]);
    expect(applicableFaults(new AccelVf())).toEqual(["dma-after-stop", "short-stream", "corrupt-stream", "arc-fails-to-error"]);
    expect(applicableFaults(new SerialMdev())).toEqual(["short-stream", "corrupt-stream", "arc-fails-to-error"]);
    expect(faultApplies("p2p-during-running-p2p", new AccelVf())).toBe(false);
    expect(() => new FaultyDevice(new SerialMdev(), "dma-after-stop")).toThrow(/cannot break/);
  });
});

describe("each rule is observably broken", () => {
  it("dma-after-stop: guest memory changes after STOP", () => {
    for (const faulty of [false, true]) {
      const m = machine();
      const { nic, drv } = nicOn(m, 0x10, 0x10_0000);
      const dev: MigratableDevice = faulty ? new FaultyDevice(nic, "dma-after-stop") : nic;
      dev.stop();
      const t = m.clock.now;
      m.clock.advance(10);
      const before = m.memory.read(drv.rxBuffer(0, 0), 64);
      nic.receive(0, bytes(64, 1));
      const after = m.memory.read(drv.rxBuffer(0, 0), 64);
      const writesAfterStop = nic.dmaTrace.filter((e) => e.op === "write" && e.status === "ok" && e.time > t);
      if (faulty) {
        expect(after).toEqual(bytes(64, 1));
        expect(writesAfterStop.length).toBeGreaterThan(0);
        expect(nic.counters.dmaWhileStopped).toBeGreaterThan(0);
      } else {
        expect(after).toEqual(before);
        expect(writesAfterStop).toHaveLength(0);
      }
    }
    // the accelerator breaks it the same way
    const m = machine();
    const acc = new AccelVf({ dma: m.dma, time: m.clock });
    m.plug(acc.fn, 0x20);
    const f = new FaultyDevice(acc, "dma-after-stop");
    f.stop();
    // a job submitted after STOP is still executed: its descriptor read and write-back happen
    acc.fn.mmioWrite(0, ACCEL_REGS.SQ_SIZE, 4, 8);
    acc.fn.mmioWrite(0, ACCEL_REGS.CTRL, 4, 1);
    acc.fn.mmioWrite(0, ACCEL_REGS.SQ_TAIL, 4, 1);
    expect(acc.counters.dmaWhileStopped).toBeGreaterThan(0);
    expect(acc.fn.mmioRead(0, ACCEL_REGS.SQ_HEAD, 4)).toBe(1);
  });

  it("p2p-during-running-p2p: a quiesced device still rings a peer; a stopped peer loses the write", () => {
    const m = machine();
    const a = nicOn(m, 0x10, 0x10_0000);
    const b = nicOn(m, 0x18, 0x20_0000);
    const peerB = m.mapPeerBar(b.nic.fn, 0);
    const fa = new FaultyDevice(a.nic, "p2p-during-running-p2p");
    // all devices quiesce P2P, then each stops: the window in which the rule matters
    fa.quiesceP2P();
    b.nic.quiesceP2P();
    a.drv.sendPeerDoorbell(0, peerB + NIC_REGS.MAILBOX, 1);
    expect(b.drv.readReg(NIC_REGS.P2P_RECEIVED)).toBe(1);
    expect(a.nic.counters.p2pWhileQuiesced).toBe(1);
    b.nic.stop();
    a.drv.sendPeerDoorbell(0, peerB + NIC_REGS.MAILBOX, 2);
    expect(m.dma.lost.map((l) => l.reason)).toEqual(["refused"]);
    expect(b.nic.counters.peerWritesRefused).toBe(1);
  });

  it("short-stream: the destination cannot complete the resume", () => {
    for (const make of [() => new NicVf({ stateSize: 8192 }), () => new AccelVf(), () => new SerialMdev()]) {
      const src = new FaultyDevice(make() as NicVf, "short-stream");
      const dst = make();
      src.stop();
      const s = src.startSave({ preCopy: false });
      const data = drain(s, 100);
      expect(data.length).toBe(src.stopCopyLength() - 16);
      expect(s.read(10)).toHaveLength(0);
      dst.stop();
      const r = dst.startResume();
      r.write(data);
      expect(() => r.finish()).toThrow(expect.objectContaining({ code: "incomplete" }));
    }
  });

  it("corrupt-stream: rejected by devices that check, a different state on one that does not", () => {
    for (const make of [() => new NicVf({ stateSize: 8192 }), () => new AccelVf()]) {
      const src = new FaultyDevice(make() as NicVf, "corrupt-stream");
      const dst = make();
      expect(() => migrate(src, dst)).toThrow(DeviceMigrationError);
    }
    // the serial format has no checksum (like mtty): the corruption lands in the device
    const inner = new SerialMdev();
    inner.portWrite(0, UART_TX, 0x41);
    const src = new FaultyDevice(inner, "corrupt-stream", { corruptAt: 24 + 8 });
    const dst = new SerialMdev();
    migrate(src, dst);
    expect(dst.save()).not.toEqual(src.save());
    expect(dst.describe().ports).not.toEqual(src.describe().ports);
  });

  it("arc-fails-to-error: the chosen verb fails and leaves the device failed until reset", () => {
    const nic = new NicVf({ stateSize: 4096 });
    const f = new FaultyDevice(nic, "arc-fails-to-error", { arc: "stop" });
    expect(() => f.stop()).toThrow(expect.objectContaining({ code: "arc-failed" }));
    expect(f.health).toBe("failed");
    expect(() => f.run()).toThrow(expect.objectContaining({ code: "device-failed" }));
    expect(() => f.startSave({ preCopy: false })).toThrow(expect.objectContaining({ code: "device-failed" }));
    f.reset();
    expect(f.health).toBe("ok");
    expect(f.runState).toBe("running");
    f.stop(); // fails only once by default
    expect(f.runState).toBe("stopped");
    // any verb can be targeted
    expect(FAULT_ARCS).toContain("finishResume");
    const acc = new FaultyDevice(new AccelVf(), "arc-fails-to-error", { arc: "finishResume" });
    const src = new AccelVf();
    expect(() => migrate(src, acc)).toThrow(expect.objectContaining({ code: "arc-failed" }));
    expect(acc.health).toBe("failed");
    const ser = new FaultyDevice(new SerialMdev(), "arc-fails-to-error", { arc: "finishPreCopy", repeat: true });
    const s = ser.startSave({ preCopy: true });
    ser.stop();
    expect(() => s.finishPreCopy()).toThrow(expect.objectContaining({ code: "arc-failed" }));
    expect(s.closed).toBe(true);
  });

  it("dirty-page-not-logged: a page written by DMA is missing from the device's report", () => {
    for (const faulty of [false, true]) {
      const m = machine();
      const { nic, drv } = nicOn(m, 0x10, 0x10_0000);
      const dev: MigratableDevice = faulty ? new FaultyDevice(nic, "dirty-page-not-logged") : nic;
      m.domain.setDirtyTracking(true);
      dev.dmaLog!.start([{ iova: 0, length: 0x100_0000 }], 4096);
      const pkt = bytes(200, 9);
      nic.receive(0, pkt);
      expect(m.memory.read(drv.rxBuffer(0, 0), 200)).toEqual(pkt);
      const bufPage = drv.rxBuffer(0, 0) >> 12;
      const ringPage = drv.rxRing(0) >> 12;
      const bm = new Uint32Array(0x1000 / 32);
      dev.dmaLog!.report(0, 0x100_0000, 4096, bm);
      const has = (p: number) => (bm[p >>> 5]! & (1 << (p & 31))) !== 0;
      // the IOMMU saw the write either way
      const io = new Uint32Array(0x1000 / 32);
      m.domain.readDirty(0, 0x100_0000, 4096, io);
      expect((io[bufPage >>> 5]! >>> (bufPage & 31)) & 1).toBe(1);
      expect(has(ringPage)).toBe(true);
      expect(has(bufPage)).toBe(!faulty);
      expect(nic.counters.dirtyLogSkipped).toBe(faulty ? 1 : 0);
    }
  });
});
