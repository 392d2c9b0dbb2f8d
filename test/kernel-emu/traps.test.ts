/**
 * The behaviours §12 of the uAPI fact sheet lists as easy to get wrong, each
 * checked through the syscall interface on an emulated machine. (Traps 10-17
 * have their tests beside the code they concern: container, iommufd, vfio-pci
 * and mtty test files, named after the trap.)
 */
import { describe, expect, it } from "vitest";
import {
  IOCTL,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_FLAG,
  VFIO_DEVICE_STATE,
  vfio_device_feature,
  vfio_device_feature_mig_state,
  vfio_precopy_info,
  type Syscalls,
} from "../../hw-emu/uapi/index.js";
import { createMachine, type DeviceSpec } from "../../hw-emu/machine/machine.js";
import { Container, Group, Iommufd, Device, SaveStream, VfioError } from "../../kernel-lib/vfio/index.js";

const { GET, SET, PROBE } = VFIO_DEVICE_FEATURE_FLAG.bits;

function openDevice(spec: DeviceSpec) {
  const m = createMachine({ devices: [spec] });
  const c = Container.open(m.sys);
  const g = Group.open(m.sys, m.devices[0]!.group);
  g.setContainer(c);
  c.setIommu();
  const dev = g.device(m.devices[0]!.address);
  return { m, c, g, dev, sys: m.sys, fd: dev.fd, core: m.devices[0]!.vfio.migration! };
}

/** A raw MIG_DEVICE_STATE feature call; returns the whole buffer as the kernel left it. */
function rawMigState(sys: Syscalls, fd: number, op: "get" | "set", state = 0): { buf: Uint8Array; error?: string } {
  const buf = new Uint8Array(16);
  buf.set(vfio_device_feature.encode({ argsz: 16, flags: VFIO_DEVICE_FEATURE.values.MIG_DEVICE_STATE | (op === "get" ? GET : SET) }));
  buf.set(vfio_device_feature_mig_state.encode({ device_state: state, data_fd: 1234 }), 8);
  try {
    sys.ioctl(fd, IOCTL.VFIO_DEVICE_FEATURE, buf);
    return { buf };
  } catch (e) {
    return { buf, error: (e as { code: string }).code };
  }
}

const st = (buf: Uint8Array) => vfio_device_feature_mig_state.decode(buf, 8);

describe("traps an emulator gets wrong (§12)", () => {
  it("trap 1: one request number, different meanings per fd kind", () => {
    const { sys, c, fd } = openDevice({ model: "nic" });
    expect(IOCTL.VFIO_DEVICE_FEATURE).toBe(IOCTL.VFIO_IOMMU_DIRTY_PAGES);
    // 0x3b75 with an 8-byte DIRTY_PAGES START on the container works ...
    const start = new Uint8Array(8);
    new DataView(start.buffer).setUint32(0, 8, true);
    new DataView(start.buffer).setUint32(4, 1, true);
    expect(sys.ioctl(c.fd, 0x3b75, start)).toBe(0);
    // ... and the same bytes on the device fd are a DEVICE_FEATURE call for feature index 1 with no direction
    expect(() => sys.ioctl(fd, 0x3b75, start)).toThrowError(/EINVAL/);
    // 0x3b79 is PRECOPY_INFO only on a data fd: a device fd does not know it
    expect(() => sys.ioctl(fd, IOCTL.VFIO_MIG_GET_PRECOPY_INFO, vfio_precopy_info.encode())).toThrowError(/ENOTTY/);
  });

  it("trap 2: a failed SET writes back the requested state and data_fd -1, not the state reached", () => {
    const { sys, fd, dev } = openDevice({ model: "nic" });
    dev.migration!.set("STOP_COPY");
    const r = rawMigState(sys, fd, "set", VFIO_DEVICE_STATE.values.PRE_COPY);
    expect(r.error).toBe("EINVAL");
    expect(st(r.buf)).toEqual({ device_state: VFIO_DEVICE_STATE.values.PRE_COPY, data_fd: -1 });
    expect(dev.migration!.state()).toBe("STOP_COPY");
  });

  it("trap 3: SET to the current state succeeds (ERROR to ERROR too); ERROR is never requestable; only reset leaves it", () => {
    const { sys, fd, dev } = openDevice({ model: "nic", faulty: "arc-fails-to-error", faultyOptions: { arc: "stop" } });
    expect(rawMigState(sys, fd, "set", VFIO_DEVICE_STATE.values.RUNNING).error).toBeUndefined();
    expect(rawMigState(sys, fd, "set", VFIO_DEVICE_STATE.values.ERROR).error).toBe("EINVAL");
    expect(() => dev.migration!.set("STOP")).toThrowError(VfioError);
    expect(dev.migration!.state()).toBe("ERROR");
    expect(rawMigState(sys, fd, "set", VFIO_DEVICE_STATE.values.ERROR).error).toBeUndefined();
    for (const s of ["STOP", "RUNNING", "RESUMING"] as const) expect(rawMigState(sys, fd, "set", VFIO_DEVICE_STATE.values[s]).error).toBe("EINVAL");
    dev.reset();
    expect(dev.migration!.state()).toBe("RUNNING");
  });

  it("trap 4: STOP_COPY -> PRE_COPY(_P2P) is EINVAL at once, not a hang", () => {
    const { dev, core } = openDevice({ model: "nic" });
    dev.migration!.set("STOP_COPY");
    const arcs = core.arcs.length;
    expect(() => dev.migration!.set("PRE_COPY")).toThrowError(/EINVAL/);
    expect(() => dev.migration!.set("PRE_COPY_P2P")).toThrowError(/EINVAL/);
    expect(core.arcs.length).toBe(arcs);
  });

  it("trap 5: one data fd per session; moves inside the saving group return -1; leaving it makes the old fd ENODEV", () => {
    const { sys, fd, dev } = openDevice({ model: "nic", stateSize: 16384 });
    const pre = rawMigState(sys, fd, "set", VFIO_DEVICE_STATE.values.PRE_COPY);
    const dataFd = st(pre.buf).data_fd;
    expect(dataFd).toBeGreaterThan(2);
    expect(st(rawMigState(sys, fd, "set", VFIO_DEVICE_STATE.values.PRE_COPY_P2P).buf).data_fd).toBe(-1);
    expect(st(rawMigState(sys, fd, "set", VFIO_DEVICE_STATE.values.STOP_COPY).buf).data_fd).toBe(-1);
    const stream = new SaveStream(sys, dataFd);
    expect(stream.readAvailable().length).toBeGreaterThan(0);
    dev.migration!.set("STOP");
    expect(() => sys.read(dataFd, new Uint8Array(16))).toThrowError(/ENODEV/);
    // the fd is still open until closed
    expect(() => sys.close(dataFd)).not.toThrow();
    expect(() => sys.close(dataFd)).toThrowError(/EBADF/);
  });

  it("trap 6: a temporary end of pre-copy data is ENOMSG (mlx5-like) or 0 (hisi-like); STOP_COPY's end is 0 forever", () => {
    const nic = openDevice({ model: "nic", stateSize: 8192 });
    const r = nic.dev.migration!.set("PRE_COPY");
    const s = r.data as SaveStream;
    s.readAvailable();
    expect(() => nic.sys.read(s.fd, new Uint8Array(64))).toThrowError(/ENOMSG/);
    nic.dev.migration!.set("STOP_COPY");
    s.readAvailable();
    for (let i = 0; i < 3; i++) expect(nic.sys.read(s.fd, new Uint8Array(64))).toBe(0);

    const acc = openDevice({ model: "accel" });
    const a = acc.dev.migration!.set("PRE_COPY").data as SaveStream;
    a.readAvailable();
    expect(acc.sys.read(a.fd, new Uint8Array(64))).toBe(0);
  });

  it("trap 7: PRECOPY_INFO is EINVAL outside the pre-copy states, flags echo; any other ioctl on a data fd is ENOTTY", () => {
    const { sys, dev } = openDevice({ model: "nic", stateSize: 8192 });
    const s = dev.migration!.set("PRE_COPY").data as SaveStream;
    const buf = vfio_precopy_info.encode({ flags: 0xabc });
    expect(sys.ioctl(s.fd, IOCTL.VFIO_MIG_GET_PRECOPY_INFO, buf)).toBe(0);
    const info = vfio_precopy_info.decode(buf);
    expect(info.flags).toBe(0xabc);
    expect(info.initial_bytes).toBeGreaterThan(0n);
    expect(() => sys.ioctl(s.fd, IOCTL.VFIO_DEVICE_FEATURE, buf)).toThrowError(/ENOTTY/);
    expect(() => sys.ioctl(s.fd, IOCTL.VFIO_MIG_GET_PRECOPY_INFO, vfio_precopy_info.encode({ argsz: 16 }))).toThrowError(/EINVAL/);
    dev.migration!.set("STOP_COPY");
    expect(() => s.precopyInfo()).toThrowError(/EINVAL/);
  });

  it("trap 8: the path finder skips optional states the device lacks", () => {
    const { dev, core } = openDevice({ model: "accel", preCopy: true }); // STOP_COPY | PRE_COPY, no P2P
    dev.migration!.set("STOP");
    expect(core.arcs.slice(-1)).toEqual([{ from: "RUNNING", to: "STOP", ok: true }]);
    dev.reset();
    dev.migration!.set("PRE_COPY").data!.close();
    dev.migration!.set("STOP_COPY");
    expect(core.arcs.slice(-1)).toEqual([{ from: "PRE_COPY", to: "STOP_COPY", ok: true }]);
    dev.reset();
    dev.migration!.set("PRE_COPY").data!.close();
    const n = core.arcs.length;
    dev.migration!.set("STOP");
    expect(core.arcs.slice(n).map((a) => a.to)).toEqual(["RUNNING", "STOP"]);
  });

  it("trap 9: PROBE answers 0 without touching the payload or checking its size", () => {
    const { sys, fd } = openDevice({ model: "nic" });
    const buf = new Uint8Array(8);
    buf.set(vfio_device_feature.encode({ argsz: 8, flags: VFIO_DEVICE_FEATURE.values.MIG_DEVICE_STATE | GET | SET | PROBE }));
    expect(sys.ioctl(fd, IOCTL.VFIO_DEVICE_FEATURE, buf)).toBe(0);
    const big = new Uint8Array(16).fill(0x5a);
    big.set(vfio_device_feature.encode({ argsz: 16, flags: VFIO_DEVICE_FEATURE.values.MIGRATION | GET | PROBE }));
    sys.ioctl(fd, IOCTL.VFIO_DEVICE_FEATURE, big);
    expect([...big.subarray(8)]).toEqual(new Array(8).fill(0x5a));
    // without PROBE the same short argsz is refused
    buf.set(vfio_device_feature.encode({ argsz: 8, flags: VFIO_DEVICE_FEATURE.values.MIG_DEVICE_STATE | GET }));
    expect(() => sys.ioctl(fd, IOCTL.VFIO_DEVICE_FEATURE, buf)).toThrowError(/EINVAL/);
  });

  it("trap 18: a device cdev answers EINVAL to everything but BIND_IOMMUFD until bound", () => {
    const m = createMachine({ devices: [{ model: "nic" }] });
    const fd = m.sys.open(m.devices[0]!.cdev);
    expect(() => m.sys.ioctl(fd, IOCTL.VFIO_DEVICE_GET_INFO, new Uint8Array(24))).toThrowError(/EINVAL/);
    expect(() => m.sys.pread(fd, new Uint8Array(4), 7n << 40n)).toThrowError(/EINVAL/);
    expect(() => m.sys.ioctl(fd, IOCTL.VFIO_DEVICE_FEATURE, new Uint8Array(16))).toThrowError(/EINVAL/);
    m.sys.close(fd);
    const unbound = Device.openCdev(m.sys, m.devices[0]!.cdev);
    const { device } = unbound.bind(Iommufd.open(m.sys));
    expect(device.info().pci).toBe(true);
  });

  it("trap 19: reset returns the state machine to RUNNING and ends data sessions", () => {
    const { sys, dev } = openDevice({ model: "nic", stateSize: 8192 });
    const s = dev.migration!.set("STOP_COPY").data as SaveStream;
    dev.reset();
    expect(dev.migration!.state()).toBe("RUNNING");
    expect(() => sys.read(s.fd, new Uint8Array(8))).toThrowError(/ENODEV/);
  });

  it("trap 20: MIG_DATA_SIZE works in every state; DMA logging does not depend on the migration state", () => {
    const { dev } = openDevice({ model: "nic", stateSize: 65536 });
    const m = dev.migration!;
    for (const s of ["RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"] as const) {
      const r = m.set(s);
      r.data?.close();
      expect(m.dataSize()).toBeGreaterThan(0n);
    }
    dev.reset();
    m.set("STOP");
    const log = dev.dmaLogging!;
    expect(log.start([{ iova: 0n, length: 1n << 30n }])).toBe(4096);
    m.set("RESUMING").data!.close();
    expect(log.report(0n, 1n << 30n).count()).toBe(0);
    log.stop();
  });
});
