import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  ACCEL_DESC_DONE,
  ACCEL_DESC_ERROR,
  ACCEL_MATCH_SIZE,
  ACCEL_OP_CRC32,
  ACCEL_OP_XOR,
  ACCEL_REGS,
  ACCEL_STATE_SIZE,
  AccelVf,
} from "../../hw-emu/hw/devices/accel-vf.js";
import { accelDriverFor } from "../../hw-emu/lab/guest-drivers.js";
import { DeviceMigrationError } from "../../hw-emu/hw/devices/migration.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { bytes, drain, feed, machine } from "./devices-fixture.js";

type Machine = ReturnType<typeof machine>;

function accelOn(m: Machine, rid = 0x20, opts: ConstructorParameters<typeof AccelVf>[0] = {}) {
  const dev = new AccelVf({ dma: m.dma, time: m.clock, ...opts });
  m.plug(dev.fn, rid);
  const drv = accelDriverFor(dev, m.view, { base: 0x80_0000, queueSize: 8 });
  drv.init(0x11223344);
  return { dev, drv };
}

function enableMsi(dev: AccelVf): void {
  const cap = dev.msi.capOffset;
  dev.fn.configWrite(cap + 4, 4, 0xfee00000);
  dev.fn.configWrite(cap + 8, 4, 0);
  dev.fn.configWrite(cap + 0xc, 2, 0x30);
  dev.fn.configWrite(cap + 2, 2, R.PCI_MSI_FLAGS_ENABLE | (1 << 4));
}

describe("accelerator VF jobs", () => {
  it("computes a CRC32 of a source buffer and writes a transformed copy, by DMA", () => {
    const m = machine();
    const { drv } = accelOn(m);
    const src = bytes(1000, 5);
    m.memory.write(0x90_0000, src);
    const s0 = drv.submit(ACCEL_OP_CRC32, 0x90_0000, 0x91_0000, src.length);
    expect(drv.result(s0)).toEqual({ status: ACCEL_DESC_DONE, result: crc32(src) });
    expect(m.memory.readU32(0x91_0000)).toBe(crc32(src));
    const s1 = drv.submit(ACCEL_OP_XOR, 0x90_0000, 0x92_0000, 8);
    expect(drv.result(s1).status).toBe(ACCEL_DESC_DONE);
    const out = m.memory.read(0x92_0000, 8);
    const key = [0x44, 0x33, 0x22, 0x11];
    expect([...out]).toEqual([...src.subarray(0, 8)].map((b, i) => b ^ key[i % 4]!));
    expect(drv.readReg(ACCEL_REGS.COMPLETED)).toBe(2);
    // an unknown op fails the job
    const s2 = drv.submit(7, 0x90_0000, 0x92_0000, 8);
    expect(drv.result(s2).status).toBe(ACCEL_DESC_DONE | ACCEL_DESC_ERROR);
    expect(drv.readReg(ACCEL_REGS.ERRORS)).toBe(1);
  });

  it("signals completions and errors on its two MSI vectors", () => {
    const m = machine();
    const { dev, drv } = accelOn(m);
    enableMsi(dev);
    const seen: number[] = [];
    dev.msi.setConsumer(0, (msg) => seen.push(msg.vector));
    dev.msi.setConsumer(1, (msg) => seen.push(msg.vector));
    m.memory.write(0x90_0000, bytes(16, 1));
    drv.submit(ACCEL_OP_CRC32, 0x90_0000, 0, 16);
    drv.submit(9, 0x90_0000, 0, 16);
    expect(seen).toEqual([0, 1]);
  });

  it("STOP stops its DMA; jobs submitted while stopped run after run()", () => {
    const m = machine();
    const { dev, drv } = accelOn(m);
    m.memory.write(0x90_0000, bytes(64, 2));
    dev.stop();
    const writes = m.dma.stats.writes;
    const slot = drv.submit(ACCEL_OP_CRC32, 0x90_0000, 0x91_0000, 64);
    expect(m.dma.stats.writes).toBe(writes);
    expect(drv.result(slot).status).toBe(0);
    dev.run();
    expect(drv.result(slot).status).toBe(ACCEL_DESC_DONE);
  });

  it("has no P2P: no quiesce state, and peer writes are refused", () => {
    const dev = new AccelVf();
    expect(dev.features).toEqual({ stopCopy: true, p2p: false, preCopy: true, dmaLogging: false });
    expect(dev.dmaLog).toBeNull();
    expect(() => dev.quiesceP2P()).toThrow(expect.objectContaining({ code: "unsupported" }));
    const m = machine();
    m.plug(dev.fn, 0x28);
    expect(dev.fn.peerWrite(0, ACCEL_REGS.KEY, new Uint8Array(4))).toBe(false);
  });
});

describe("accelerator VF state", () => {
  it("save() then load() gives an equal state and equal later behaviour", () => {
    const m1 = machine();
    const m2 = machine();
    const a = accelOn(m1);
    const b = accelOn(m2);
    m1.memory.write(0x90_0000, bytes(256, 3));
    m2.memory.write(0x90_0000, bytes(256, 3));
    a.drv.submit(ACCEL_OP_CRC32, 0x90_0000, 0, 256);
    a.dev.fn.mmioWrite(0, ACCEL_REGS.CONTEXT + 8, 4, 0xabcdef);
    b.dev.load(a.dev.save());
    expect(b.dev.save()).toEqual(a.dev.save());
    expect(a.dev.save()).toHaveLength(ACCEL_STATE_SIZE);
    // same inputs, same outputs: both continue at the same queue slot
    m2.memory.write(0x80_0000, m1.memory.read(0x80_0000, 8 * 32));
    for (const [m, d] of [[m1, a], [m2, b]] as const) {
      m.memory.write(0x90_0000, bytes(128, 4));
      d.dev.fn.mmioWrite(0, ACCEL_REGS.SQ_TAIL, 4, 1);
      const desc = new Uint8Array(32);
      const v = new DataView(desc.buffer);
      v.setBigUint64(0, 0x90_0000n, true);
      v.setBigUint64(8, 0x93_0000n, true);
      v.setUint32(16, 128, true);
      v.setUint16(20, ACCEL_OP_XOR, true);
      m.memory.write(0x80_0000 + 32, desc);
      d.dev.fn.mmioWrite(0, ACCEL_REGS.SQ_TAIL, 4, 2);
    }
    expect(b.dev.save()).toEqual(a.dev.save());
    expect(Buffer.from(m2.memory.read(0x93_0000, 128)).equals(m1.memory.read(0x93_0000, 128))).toBe(true);
  });

  it("pre-copy carries only the 40-byte match block; stop-copy appends the rest", () => {
    const m = machine();
    const { dev, drv } = accelOn(m);
    m.memory.write(0x90_0000, bytes(32, 1));
    drv.submit(ACCEL_OP_CRC32, 0x90_0000, 0, 32);
    const s = dev.startSave({ preCopy: true });
    expect(s.initialBytes()).toBe(ACCEL_MATCH_SIZE);
    expect(s.dirtyBytes()).toBe(0);
    const first = drain(s, 16);
    expect(first).toHaveLength(ACCEL_MATCH_SIZE);
    expect(s.initialBytes()).toBe(0);
    expect(s.read(16)).toHaveLength(0);
    drv.submit(ACCEL_OP_CRC32, 0x90_0000, 0, 32); // still running during pre-copy
    dev.stop();
    s.finishPreCopy();
    const rest = drain(s, 50);
    expect(first.length + rest.length).toBe(ACCEL_STATE_SIZE);
    const image = new Uint8Array(ACCEL_STATE_SIZE);
    image.set(first);
    image.set(rest, first.length);
    const dst = new AccelVf();
    dst.stop();
    const r = dst.startResume();
    feed(r, image, [3, 5]);
    r.finish();
    expect(dst.save()).toEqual(dev.save());
    expect(dst.describe()).toMatchObject({ completed: 2 });
  });

  it("STOP_COPY only when configured so", () => {
    const dev = new AccelVf({ preCopy: false });
    expect(dev.features.preCopy).toBe(false);
    expect(() => dev.startSave({ preCopy: true })).toThrow(expect.objectContaining({ code: "unsupported" }));
    dev.stop();
    expect(drain(dev.startSave({ preCopy: false }))).toHaveLength(ACCEL_STATE_SIZE);
  });

  it("resume validates the match block, the size and the CRC", () => {
    const src = new AccelVf();
    src.stop();
    const image = drain(src.startSave({ preCopy: false }));
    // a different device id is incompatible
    const other = new AccelVf({ vf: undefined, name: "other" });
    Object.defineProperty(other.fn, "deviceId", { value: 0x7e99 });
    other.stop();
    expect(() => other.startResume().write(image)).toThrow(expect.objectContaining({ code: "incompatible" }));
    const dst = new AccelVf();
    dst.stop();
    const r = dst.startResume();
    r.write(image.subarray(0, 100));
    expect(() => r.finish()).toThrow(expect.objectContaining({ code: "incomplete" }));
    expect(() => r.write(new Uint8Array(200))).toThrow(expect.objectContaining({ code: "too-big" }));
    const bad = image.slice();
    bad[120] ^= 1;
    const d2 = new AccelVf();
    d2.stop();
    const r2 = d2.startResume();
    r2.write(bad);
    expect(() => r2.finish()).toThrow(expect.objectContaining({ code: "corrupt" }));
    const badMagic = image.slice();
    badMagic[0] ^= 1;
    const d3 = new AccelVf();
    d3.stop();
    expect(() => d3.startResume().write(badMagic)).toThrow(DeviceMigrationError);
  });
});
