/**
 * The v1 migration region (Linux 5.8-5.17): discovered as a device-specific
 * region with a TYPE capability, driven by device_state bits, with state moved
 * through a data window by the pending_bytes / data_offset / data_size protocol.
 */
import { describe, expect, it } from "vitest";
import { createMachine, type EmulatedMachine } from "../../hw-emu/machine/machine.js";
import { VFIO_DEVICE_STATE_V1, VFIO_REGION_SUBTYPE, VFIO_REGION_TYPE, vfio_device_migration_info } from "../../hw-emu/uapi/index.js";
import { triggerTraffic } from "../../hw-emu/lab/devices.js";
import { Container, Group, type Device, type Region } from "../../kernel-lib/vfio/index.js";

const { RUNNING, SAVING, RESUMING } = VFIO_DEVICE_STATE_V1.bits;
const F = Object.fromEntries(vfio_device_migration_info.fields.map((f) => [f.name, f.offset])) as Record<string, number>;

function open(m: EmulatedMachine): Device {
  const c = Container.open(m.sys);
  const g = Group.open(m.sys, m.devices[0]!.group);
  g.setContainer(c);
  c.setIommu();
  return g.device(m.devices[0]!.address);
}

function migrationRegion(dev: Device): Region {
  const n = dev.info().numRegions;
  for (let i = 9; i < n; i++) {
    const r = dev.region(i);
    if (r.info.type?.type === VFIO_REGION_TYPE.values.MIGRATION_DEPRECATED && r.info.type.subtype === VFIO_REGION_SUBTYPE.values.MIGRATION_DEPRECATED) return r;
  }
  throw new Error("no v1 migration region");
}

const u64 = (r: Region, off: number) => new DataView(r.read(off, 8).buffer).getBigUint64(0, true);
const setU64 = (r: Region, off: number, v: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  r.write(off, b);
};

/** One save phase: iterate until pending_bytes reads 0, collecting the chunks. */
function drain(r: Region, out: Uint8Array[]): void {
  for (;;) {
    const pending = u64(r, F.pending_bytes!);
    if (pending === 0n) return;
    const off = Number(u64(r, F.data_offset!));
    const size = Number(u64(r, F.data_size!));
    if (size === 0) return;
    out.push(r.read(off, size));
  }
}

describe("v1 migration region", () => {
  const spec = { model: "nic" as const, stateSize: 200 << 10, migration: "v1" as const };

  it("is found as a device-specific region, and the device has no v2 migration", () => {
    const m = createMachine({ devices: [spec] });
    const dev = open(m);
    expect(dev.info().numRegions).toBe(10);
    const r = migrationRegion(dev);
    expect(r.info.index).toBe(9);
    expect(r.info.readable && r.info.writable).toBe(true);
    expect(r.readU32(F.device_state!)).toBe(RUNNING);
    expect(dev.migration).toBeNull();
  });

  it("saves with pre-copy then stop-and-copy, and resumes into a second device", () => {
    const src = createMachine({ devices: [spec] });
    const dst = createMachine({ clock: src.clock, devices: [spec] });
    const r = migrationRegion(open(src));
    triggerTraffic(src.devices[0]!.model, { packets: 2, churnPages: 3, seed: 5 });
    const chunks: Uint8Array[] = [];
    r.writeU32(F.device_state!, RUNNING | SAVING);
    drain(r, chunks);
    r.writeU32(F.device_state!, SAVING);
    drain(r, chunks);
    r.writeU32(F.device_state!, 0);
    const saved = Buffer.from(src.devices[0]!.model.save()).toString("hex");

    const d = migrationRegion(open(dst));
    d.writeU32(F.device_state!, RESUMING);
    for (const c of chunks) {
      const off = Number(u64(d, F.data_offset!));
      d.write(off, c);
      setU64(d, F.data_size!, BigInt(c.byteLength));
    }
    d.writeU32(F.device_state!, RUNNING);
    expect(d.readU32(F.device_state!)).toBe(RUNNING);
    expect(Buffer.from(dst.devices[0]!.model.save()).toString("hex")).toBe(saved);
  });

  it("refuses invalid states, the error encoding, and changed reserved bits; fields need their natural width", () => {
    const r = migrationRegion(open(createMachine({ devices: [spec] })));
    for (const bad of [RUNNING | RESUMING, RUNNING | SAVING | RESUMING, SAVING | RESUMING, RUNNING | 0x100]) {
      expect(() => r.writeU32(F.device_state!, bad)).toThrowError(/EINVAL/);
    }
    expect(() => r.read(F.pending_bytes!, 4)).toThrowError(/EINVAL/);
    expect(r.readU32(F.device_state!)).toBe(RUNNING);
  });

  it("an incomplete resume stream leaves the error state, which only a reset clears", () => {
    const m = createMachine({ devices: [spec] });
    const dev = open(m);
    const r = migrationRegion(dev);
    r.writeU32(F.device_state!, RESUMING);
    const off = Number(u64(r, F.data_offset!));
    r.write(off, new Uint8Array(64).fill(7));
    expect(() => setU64(r, F.data_size!, 64n)).toThrowError(/EINVAL/);
    expect(r.readU32(F.device_state!) & 7).toBe(SAVING | RESUMING);
    expect(() => r.writeU32(F.device_state!, RUNNING)).toThrowError(/EINVAL/);
    dev.reset();
    expect(r.readU32(F.device_state!)).toBe(RUNNING);
  });

  it("clearing _RUNNING stops the device outright: peer-to-peer writes into it are refused (v1 has no P2P-only stop)", () => {
    const m = createMachine({ devices: [spec] });
    const r = migrationRegion(open(m));
    const fn = m.devices[0]!.model.fn;
    // the lab's view of a peer's posted write into BAR0's mailbox
    expect(fn.peerWrite(0, 0x1000, Uint8Array.of(1, 0, 0, 0))).toBe(true);
    r.writeU32(F.device_state!, SAVING);
    expect(m.devices[0]!.model.runState).toBe("stopped");
    expect(fn.peerWrite(0, 0x1000, Uint8Array.of(2, 0, 0, 0))).toBe(false);
  });
});
