/**
 * traceSyscalls(): the library runs unchanged through the recorder, and the recorder
 * keeps each ioctl argument as it went in and as the kernel left it.
 */
import { describe, expect, it } from "vitest";
import { IOCTL, vfio_device_feature, vfio_device_feature_mig_state } from "../../hw-emu/uapi/index.js";
import { createEmuBackend } from "../../kernel-lib/backends/index.js";
import { Container, Group, traceSyscalls, type SaveStream } from "../../kernel-lib/vfio/index.js";

function open() {
  const m = createEmuBackend({ devices: [{ model: "nic", stateSize: 16384 }] });
  const trace = traceSyscalls(m.sys);
  const c = Container.open(trace);
  const g = Group.open(trace, m.devices[0]!.group);
  g.setContainer(c);
  c.setIommu();
  return { trace, dev: g.device(m.devices[0]!.address) };
}

describe("traceSyscalls", () => {
  it("records a SET's argument before and after the kernel filled in data_fd", () => {
    const { trace, dev } = open();
    trace.clear();
    const r = dev.migration!.set("STOP_COPY");
    const sets = trace.ioctls("VFIO_DEVICE_FEATURE").filter((x) => x.argIn instanceof Uint8Array && (vfio_device_feature.decode(x.argIn).flags & 0x20000) !== 0);
    expect(sets).toHaveLength(1);
    const set = sets[0]!;
    expect(set.request).toBe(IOCTL.VFIO_DEVICE_FEATURE);
    expect(set.names).toEqual(expect.arrayContaining(["VFIO_DEVICE_FEATURE", "VFIO_IOMMU_DIRTY_PAGES"]));
    expect(vfio_device_feature.decode(set.argIn as Uint8Array)).toEqual({ argsz: 16, flags: 0x20002 });
    expect(vfio_device_feature_mig_state.decode(set.argIn as Uint8Array, 8)).toEqual({ device_state: 3, data_fd: -1 });
    expect(vfio_device_feature_mig_state.decode(set.argOut!, 8)).toEqual({ device_state: 3, data_fd: (r.data as SaveStream).fd });
    expect(set).toMatchObject({ result: 0, errno: null });
  });

  it("records a failed ioctl with its errno and rethrows the same error", () => {
    const { trace, dev } = open();
    dev.migration!.set("STOP_COPY");
    trace.clear();
    expect(() => dev.migration!.set("PRE_COPY")).toThrowError(/EINVAL/);
    const failed = trace.ioctls().filter((x) => x.errno !== null);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ errno: "EINVAL", result: null });
    // a failed SET writes back the requested state and no fd
    expect(vfio_device_feature_mig_state.decode(failed[0]!.argOut!, 8)).toEqual({ device_state: 6, data_fd: -1 });
  });

  it("records reads with the length asked for and the bytes returned, and integer ioctl arguments as given", () => {
    const { trace, dev } = open();
    const save = dev.migration!.set("STOP_COPY").data as SaveStream;
    trace.clear();
    const chunk = save.read(4096);
    expect(trace.records).toEqual([{ call: "read", fd: save.fd, length: 4096, result: chunk!.byteLength, errno: null }]);
    const setIommu = traceSyscalls(createEmuBackend({ devices: [{ model: "nic", stateSize: 16384 }] }).sys);
    const c = Container.open(setIommu);
    expect(() => c.setIommu()).toThrowError(/EINVAL/);
    expect(setIommu.ioctls("VFIO_SET_IOMMU")).toEqual([
      { call: "ioctl", fd: c.fd, request: IOCTL.VFIO_SET_IOMMU, names: ["VFIO_SET_IOMMU"], argIn: 3, argOut: null, result: null, errno: "EINVAL" },
    ]);
  });
});
