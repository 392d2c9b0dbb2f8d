import { describe, expect, it } from "vitest";
import { NicVf, NIC_DESC_DONE, NIC_REGS, NIC_VF_BARS, NIC_VF_DEVICE_ID, NIC_VENDOR_ID, NIC_PF_DEVICE_ID } from "../../hw-emu/hw/devices/nic-vf.js";
import { nicDriverFor } from "../../hw-emu/lab/guest-drivers.js";
import { DeviceMigrationError } from "../../hw-emu/hw/devices/migration.js";
import { SriovPf } from "../../hw-emu/hw/sriov.js";
import { routingId } from "../../hw-emu/hw/pci/address.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { bytes, drain, enableMsix, feed, machine } from "./devices-fixture.js";

type Machine = ReturnType<typeof machine>;

function nicOn(m: Machine, rid: number, opts: ConstructorParameters<typeof NicVf>[0] = {}, base = 0x10_0000) {
  const nic = new NicVf({ dma: m.dma, time: m.clock, stateSize: 64 * 1024, ...opts });
  m.plug(nic.fn, rid);
  enableMsix(nic.fn, nic.msix);
  const drv = nicDriverFor(nic, m.view, { base, ringSize: 16, bufferSize: 512 });
  drv.init();
  return { nic, drv };
}

function okWrites(nic: NicVf, after = -1) {
  return nic.dmaTrace.filter((e) => e.op === "write" && e.status === "ok" && e.time > after);
}

describe("NIC VF data path", () => {
  it("receives packets by DMA into posted buffers and raises the queue vector", () => {
    const m = machine();
    const { nic, drv } = nicOn(m, 0x10);
    const seen: number[] = [];
    nic.msix.setConsumer(1, (msg) => seen.push(msg.vector));
    const pkt = bytes(300, 7);
    nic.receive(1, pkt);
    const got = drv.reapRx(1);
    expect(got).toHaveLength(1);
    expect(got[0]!.data).toEqual(pkt);
    expect(got[0]!.status & NIC_DESC_DONE).toBeTruthy();
    expect(seen).toEqual([1]);
    expect(drv.readReg(NIC_REGS.RX_PACKETS)).toBe(1);
  });

  it("transmits what the driver queued, reading it by DMA", () => {
    const m = machine();
    const { nic, drv } = nicOn(m, 0x10);
    const slot = drv.send(0, bytes(100, 3));
    expect(drv.txStatus(0, slot)).toBe(NIC_DESC_DONE);
    expect(nic.transmitted).toHaveLength(1);
    expect(nic.transmitted[0]!.data).toEqual(bytes(100, 3));
    expect(m.dma.stats.reads).toBeGreaterThanOrEqual(2);
  });

  it("drops packets when no buffer is posted", () => {
    const m = machine();
    const { nic, drv } = nicOn(m, 0x10);
    for (let i = 0; i < 20; i++) nic.receive(0, bytes(64, i));
    expect(drv.readReg(NIC_REGS.RX_DROPPED)).toBe(5); // 15 buffers posted
    expect(drv.reapRx(0)).toHaveLength(15);
  });

  it("peer doorbell: a P2P write lands in the peer's mailbox through the IOMMU", () => {
    const m = machine();
    const a = nicOn(m, 0x10, {}, 0x10_0000);
    const b = nicOn(m, 0x18, {}, 0x20_0000);
    const peer = m.mapPeerBar(b.nic.fn, 0);
    a.drv.sendPeerDoorbell(0, peer + NIC_REGS.MAILBOX + 4, 0xcafe);
    expect(b.drv.readReg(NIC_REGS.P2P_RECEIVED)).toBe(1);
    expect(b.drv.readReg(NIC_REGS.MAILBOX + 4)).toBe(0xcafe);
    expect(a.drv.readReg(NIC_REGS.P2P_SENT)).toBe(1);
    expect(m.dma.stats.p2pWrites).toBe(1);
  });
});

describe("NIC VF run states", () => {
  it("STOP really stops DMA: nothing is written after stop, queued work runs after run", () => {
    const m = machine();
    const { nic, drv } = nicOn(m, 0x10);
    nic.receive(0, bytes(64, 1));
    m.clock.advance(100);
    nic.stop();
    const stopTime = m.clock.now;
    m.clock.advance(100);
    const writesBefore = m.dma.stats.writes;
    const memBefore = m.memory.read(drv.rxBuffer(0, 1), 64);
    nic.receive(0, bytes(64, 2));
    drv.send(0, bytes(32, 9)); // doorbell while stopped is latched, not processed
    nic.churn(10);
    expect(m.dma.stats.writes).toBe(writesBefore);
    expect(okWrites(nic, stopTime)).toHaveLength(0);
    expect(m.memory.read(drv.rxBuffer(0, 1), 64)).toEqual(memBefore);
    expect(nic.ingressDepth()).toBe(1);
    expect(nic.transmittedCount).toBe(0);
    // interrupts are held while stopped
    expect(nic.msix.isHeld).toBe(true);
    nic.run();
    expect(nic.ingressDepth()).toBe(0);
    expect(drv.reapRx(0).map((p) => p.data)).toEqual([bytes(64, 1), bytes(64, 2)]);
    expect(nic.transmittedCount).toBe(1);
  });

  it("RUNNING_P2P stops P2P initiation but keeps normal DMA and accepts incoming peer writes", () => {
    const m = machine();
    const a = nicOn(m, 0x10, {}, 0x10_0000);
    const b = nicOn(m, 0x18, {}, 0x20_0000);
    const peerB = m.mapPeerBar(b.nic.fn, 0);
    const peerA = m.mapPeerBar(a.nic.fn, 0);
    a.nic.quiesceP2P();
    b.nic.quiesceP2P();
    const slot = a.drv.sendPeerDoorbell(0, peerB + NIC_REGS.MAILBOX, 7);
    expect(b.drv.readReg(NIC_REGS.P2P_RECEIVED)).toBe(0);
    expect(a.drv.txStatus(0, slot)).toBe(0);
    expect(a.nic.describe().queues).toMatchObject([{ tx: { stalledOnP2p: true } }, {}]);
    // normal DMA continues on other queues
    a.nic.receive(1, bytes(40, 5));
    expect(a.drv.reapRx(1)).toHaveLength(1);
    // a quiesced device still accepts incoming MMIO from peers (CPU or another device's DMA)
    a.nic.fn.peerWrite(0, NIC_REGS.MAILBOX, new Uint8Array([1, 0, 0, 0]));
    expect(a.drv.readReg(NIC_REGS.P2P_RECEIVED)).toBe(1);
    expect(peerA).toBeGreaterThan(0);
    // back to running: the parked doorbell goes out
    a.nic.run();
    expect(b.drv.readReg(NIC_REGS.P2P_RECEIVED)).toBe(1);
    expect(a.drv.txStatus(0, slot)).toBe(NIC_DESC_DONE);
    expect(a.nic.counters.p2pWhileQuiesced).toBe(0);
  });

  it("a stopped device refuses incoming peer writes; the engine records them as lost", () => {
    const m = machine();
    const a = nicOn(m, 0x10, {}, 0x10_0000);
    const b = nicOn(m, 0x18, {}, 0x20_0000);
    const peerB = m.mapPeerBar(b.nic.fn, 0);
    b.nic.stop();
    a.drv.sendPeerDoorbell(0, peerB + NIC_REGS.MAILBOX, 1);
    expect(m.dma.lost).toHaveLength(1);
    expect(m.dma.lost[0]!.reason).toBe("refused");
    expect(b.nic.counters.peerWritesRefused).toBe(1);
    expect(b.nic.save()).toEqual((() => {
      b.nic.run();
      const s = b.nic.save();
      b.nic.stop();
      return s;
    })());
  });
});

describe("NIC VF state save/load", () => {
  it("save() then load() into a second instance gives equal state and equal later behaviour", () => {
    const m1 = machine();
    const m2 = machine();
    const src = nicOn(m1, 0x10);
    for (let i = 0; i < 5; i++) src.nic.receive(i % 2, bytes(90, i));
    src.drv.send(0, bytes(50, 50));
    src.nic.churn(7);
    const dst = nicOn(m2, 0x10);
    // the guest memory (rings, buffers) belongs to the VM and moves separately
    m2.memory.write(0x10_0000, m1.memory.read(0x10_0000, src.drv.footprint));
    dst.nic.load(src.nic.save());
    expect(dst.nic.save()).toEqual(src.nic.save());
    expect(dst.nic.describe()).toEqual({ ...src.nic.describe() });
    // same inputs -> same outputs
    for (const [m, d] of [[m1, src], [m2, dst]] as const) {
      d.nic.receive(0, bytes(77, 100));
      d.nic.churn(3);
      m.clock.advance(1);
    }
    expect(dst.nic.save()).toEqual(src.nic.save());
    expect(Buffer.from(m2.memory.read(0x10_0000, 0x20000)).equals(m1.memory.read(0x10_0000, 0x20000))).toBe(true);
    expect(() => new NicVf({ stateSize: 4096 }).load(src.nic.save())).toThrow(DeviceMigrationError);
  });
});

describe("NIC VF migration stream", () => {
  it("pre-copy: initial bytes first, then dirty bytes as the state changes, then stop-copy", () => {
    const m1 = machine();
    const src = nicOn(m1, 0x10, { stateSize: 40 * 1024 + 100 });
    const s = src.nic.startSave({ preCopy: true });
    const total0 = s.initialBytes();
    expect(total0).toBeGreaterThan(40 * 1024);
    expect(s.dirtyBytes()).toBe(0);
    const parts: Uint8Array[] = [s.read(5000)];
    expect(s.initialBytes()).toBe(total0 - 5000);
    parts.push(drain(s, 3000));
    expect(s.initialBytes()).toBe(0);
    expect(s.read(100)).toHaveLength(0); // temporary end of data
    src.nic.churn(4);
    const dirty = s.dirtyBytes();
    expect(dirty).toBeGreaterThan(0);
    expect(dirty).toBeLessThanOrEqual(4 * (4096 + 24));
    expect(s.initialBytes()).toBe(0);
    parts.push(drain(s, 1000));
    expect(parts[2]!.length).toBe(dirty);
    expect(s.dirtyBytes()).toBe(0);
    // the device keeps working during pre-copy; stop-copy needs it stopped
    src.nic.receive(0, bytes(60, 1));
    expect(() => s.finishPreCopy()).toThrow(expect.objectContaining({ code: "invalid-state" }));
    src.nic.quiesceP2P();
    src.nic.stop();
    s.finishPreCopy();
    const rest = drain(s);
    expect(rest.length).toBeGreaterThan(16);
    expect(s.complete).toBe(true);
  });

  it("full pre-copy migration round trip reproduces the device, with any write segmentation", () => {
    const m1 = machine();
    const m2 = machine();
    const src = nicOn(m1, 0x10, { stateSize: 200 * 1024, seed: 99 });
    src.nic.churn(20);
    const s = src.nic.startSave({ preCopy: true });
    const chunks: Uint8Array[] = [drain(s, 10000)];
    src.nic.receive(0, bytes(128, 4));
    src.nic.churn(5);
    chunks.push(drain(s, 777));
    src.nic.quiesceP2P();
    src.nic.stop();
    expect(s.read(10)).toHaveLength(0);
    s.finishPreCopy();
    expect(s.mode).toBe("stop-copy");
    chunks.push(drain(s, 4096));
    expect(s.complete).toBe(true);
    expect(s.read(10)).toHaveLength(0);
    const stream = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      stream.set(c, at);
      at += c.length;
    }
    const dst = nicOn(m2, 0x10, { stateSize: 200 * 1024, seed: 5 });
    dst.nic.stop();
    const r = dst.nic.startResume();
    feed(r, stream);
    r.finish();
    expect(dst.nic.save()).toEqual(src.nic.save());
    s.close();
    expect(() => s.read(1)).toThrow(/ended/);
  });

  it("stop-copy straight from STOP has the announced length", () => {
    const m = machine();
    const { nic } = nicOn(m, 0x10, { stateSize: 10000 });
    nic.stop();
    const s = nic.startSave({ preCopy: false });
    const data = drain(s);
    expect(data.length).toBe(nic.stopCopyLength());
    expect(() => nic.startSave({ preCopy: true })).toThrow(DeviceMigrationError);
  });

  it("resume rejects incompatible, truncated and corrupted streams", () => {
    const m = machine();
    const { nic } = nicOn(m, 0x10, { stateSize: 16384 });
    nic.stop();
    const data = drain(nic.startSave({ preCopy: false }));
    const other = new NicVf({ stateSize: 8192 });
    other.stop();
    expect(() => other.startResume().write(data)).toThrow(expect.objectContaining({ code: "incompatible" }));
    const short = new NicVf({ stateSize: 16384 });
    short.stop();
    const r1 = short.startResume();
    r1.write(data.subarray(0, data.length - 10));
    expect(() => r1.finish()).toThrow(expect.objectContaining({ code: "incomplete" }));
    for (const at of [5, 100, 4000, data.length - 30]) {
      const bad = data.slice();
      bad[at] ^= 0x40;
      const d = new NicVf({ stateSize: 16384 });
      d.stop();
      const r = d.startResume();
      expect(() => {
        r.write(bad);
        r.finish();
      }).toThrow(DeviceMigrationError);
    }
  });

  it("state of hundreds of MiB costs no real memory until read", () => {
    const nic = new NicVf({ stateSize: 300 * 1024 * 1024 });
    expect(nic.stopCopyLength()).toBeGreaterThan(300 * 1024 * 1024);
    nic.churn(1000);
    const s = nic.startSave({ preCopy: true });
    expect(s.initialBytes()).toBeGreaterThan(300 * 1024 * 1024);
    expect(s.read(1 << 20)).toHaveLength(1 << 20);
    expect(nic.save().length).toBeLessThan(400 * 1024);
  });
});

describe("NIC VF device DMA logging", () => {
  it("logs written pages in tracked ranges, reports at any page size and clears", () => {
    const m = machine();
    const { nic, drv } = nicOn(m, 0x10);
    const log = nic.dmaLog!;
    expect(log.start([{ iova: 0x10_0000, length: 0x10_0000 }], 4096)).toBe(4096);
    expect(() => log.start([{ iova: 0, length: 4096 }], 4096)).toThrow(/already/);
    nic.receive(0, bytes(100, 1)); // buffer write + descriptor write-back
    const buf = drv.rxBuffer(0, 0);
    const ring = drv.rxRing(0);
    const bm = new Uint32Array(8);
    log.report(0x10_0000, 0x10_0000, 4096, bm);
    const setBits: number[] = [];
    for (let b = 0; b < 256; b++) if (bm[b >>> 5]! & (1 << (b & 31))) setBits.push(b);
    expect(setBits).toEqual([...new Set([(ring - 0x10_0000) >> 12, (buf - 0x10_0000) >> 12])].sort((a, b) => a - b));
    // read-and-clear
    const again = new Uint32Array(8);
    log.report(0x10_0000, 0x10_0000, 4096, again);
    expect([...again].every((w) => w === 0)).toBe(true);
    // coarser report merges, finer report replicates
    nic.receive(0, bytes(100, 2));
    const coarse = new Uint32Array(1);
    log.report(0x10_0000, 0x10_0000, 0x10_0000, coarse);
    expect(coarse[0]).toBe(1);
    log.stop();
    log.start([{ iova: 0x10_0000, length: 0x20_0000 }], 0x20_0000);
    expect(log.pageSize).toBe(0x20_0000);
    nic.receive(0, bytes(100, 3));
    // the 2 MiB log page [0, 2 MiB) is dirty: every 8 KiB bit of [1 MiB, 2 MiB) is set
    const fine = new Uint32Array(8);
    log.report(0x10_0000, 0x10_0000, 0x2000, fine);
    expect([...fine]).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0, 0, 0, 0]);
    log.stop();
    // writes outside the tracked ranges are not logged
    log.start([{ iova: 0x3000_0000, length: 0x1000 }], 4096);
    nic.receive(0, bytes(100, 4));
    const none = new Uint32Array(1);
    log.report(0x3000_0000, 0x1000, 4096, none);
    expect(none[0]).toBe(0);
    expect(() => log.report(0, 4096, 1024, none)).toThrow(/page size/);
    log.stop();
    expect(() => log.report(0, 4096, 4096, none)).toThrow(/not active/);
  });
});

describe("NIC VFs behind an SR-IOV PF", () => {
  it("VFs built by the PF's factory do DMA and MSI-X through VF resources", () => {
    const m = machine();
    const vfs: NicVf[] = [];
    const pf = new SriovPf({
      vendorId: NIC_VENDOR_ID,
      deviceId: NIC_PF_DEVICE_ID,
      classCode: 0x020000,
      sriov: {
        totalVfs: 4,
        firstVfOffset: 1,
        vfStride: 1,
        vfDeviceId: NIC_VF_DEVICE_ID,
        vfBars: NIC_VF_BARS,
        createVf: (ctx) => {
          const nic = new NicVf({ vf: ctx, dma: m.dma, time: m.clock, stateSize: 8192 });
          vfs.push(nic);
          return nic.fn;
        },
        onVfRemoved: (_fn, i) => vfs[i]!.disconnectDma(),
      },
    });
    const pfRid = routingId(2, 0, 0);
    m.bus.attach(pf.fn, pfRid);
    pf.sriov.assignVfBars(m.alloc);
    pf.sriov.enableVfs(2);
    const vf = vfs[1]!;
    expect(vf.fn.routingId).toBe(pfRid + 2);
    expect(vf.fn.deviceId).toBe(NIC_VF_DEVICE_ID);
    m.iommu.attach(vf.fn.routingId, m.domain);
    vf.fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MASTER);
    enableMsix(vf.fn, vf.msix);
    const drv = nicDriverFor(vf, m.view, { base: 0x30_0000, ringSize: 8, bufferSize: 256 });
    drv.init();
    const seen: number[] = [];
    vf.msix.setConsumer(0, (msg) => seen.push(msg.data));
    vf.receive(0, bytes(10, 1));
    expect(drv.reapRx(0)[0]!.data).toEqual(bytes(10, 1));
    expect(seen).toEqual([0x40]);
    // the VF's BAR is decoded at the PF's VF BAR + 1 * 64 KiB
    expect(m.bus.memRead(vf.fn.barAddress(0)! + BigInt(NIC_REGS.RX_PACKETS), 4)).toBe(1);
    pf.sriov.disableVfs();
    expect(m.bus.functions()).toHaveLength(1);
  });
});
