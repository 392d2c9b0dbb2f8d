/**
 * createBackend(): devices asked for by what they offer, found by probing VFIO_DEVICE_FEATURE_MIGRATION
 * as userspace does, on the emulator by default and on /dev/vfio when the runner says so.
 */
import { describe, expect, it } from "vitest";
import { BackendError, backendKindFromEnv, createBackend, matchDevices, probeVfioDevices, type FoundDevice } from "../../kernel-lib/vfio/create-backend.js";

describe("createBackend on the emulator", () => {
  it("plugs, for a request by features, the first emulated model that offers them, and reports what the kernel says of it", () => {
    const backend = createBackend({ kind: "emu", seed: 3, devices: [{ features: ["STOP_COPY", "P2P", "PRE_COPY"] }] });
    expect(backend.kind).toBe("emu");
    expect(backend.machine).not.toBeNull();
    expect(backend.devices).toHaveLength(1);
    const [device] = backend.devices;
    expect(device!.migration).toEqual(["STOP_COPY", "P2P", "PRE_COPY"]);
    expect(device!.address).toBe(backend.machine!.devices[0]!.address);
    expect(device!.group).toBe(backend.machine!.devices[0]!.group);
  });

  it("keeps the order of the requests and honours a model named outright", () => {
    const backend = createBackend({ kind: "emu", devices: [{ model: "serial" }, { model: "accel", features: ["STOP_COPY"] }] });
    expect(backend.devices.map((d) => d.driver)).toEqual(["mtty", "vfio-pci"]);
    expect(backend.devices[1]!.migration).not.toContain("P2P");
  });

  it("refuses a model that does not offer what is asked, naming the request and what was found", () => {
    expect(() => createBackend({ kind: "emu", devices: [{ model: "accel", features: ["P2P"] }] })).toThrow(
      /^createBackend: the emulator has no free device for an emulated accel offering P2P; VFIO devices found: 0000:\S+ \(STOP_COPY, PRE_COPY\)$/,
    );
  });

  it("finds the same devices by probing that the machine plugged", () => {
    const backend = createBackend({ kind: "emu", devices: [{ model: "nic" }, { model: "serial" }] });
    expect(probeVfioDevices(backend.sys).map((d) => d.address).sort()).toEqual(backend.machine!.devices.map((d) => d.address).sort());
  });
});

describe("which backend", () => {
  it("is the emulator unless the runner says native, and a bad setting is an error", () => {
    expect(backendKindFromEnv({})).toBe("emu");
    expect(backendKindFromEnv({ VFIO_WORKBENCH_BACKEND: "native" })).toBe("native");
    expect(() => backendKindFromEnv({ VFIO_WORKBENCH_BACKEND: "kvm" })).toThrow(BackendError);
  });
});

describe("matching requests to devices", () => {
  const mtty: FoundDevice = { address: "uuid-1", group: 7, cdev: null, driver: "mtty", migration: ["STOP_COPY", "P2P", "PRE_COPY"] };
  const plain: FoundDevice = { address: "0000:00:04.0", group: 3, cdev: null, driver: "vfio-pci", migration: [] };
  it("gives each request its own device, the first that offers what it asks", () => {
    expect(matchDevices([{ features: ["P2P", "PRE_COPY"] }, {}], [plain, mtty], "this host")).toEqual([mtty, plain]);
  });
  it("finds a device without a migration driver for migration: none, and never gives one that migrates", () => {
    expect(matchDevices([{ migration: "none" }], [mtty, plain], "this host")).toEqual([plain]);
    expect(() => matchDevices([{ migration: "none" }], [mtty], "this host")).toThrow(
      "createBackend: this host has no free device for a device without a migration driver; VFIO devices found: uuid-1 (STOP_COPY, P2P, PRE_COPY)",
    );
  });
  it("fails when the devices run out", () => {
    expect(() => matchDevices([{ features: ["P2P"] }, { features: ["P2P"] }], [plain, mtty], "this host")).toThrow(
      "createBackend: this host has no free device for a device offering P2P; VFIO devices found: 0000:00:04.0 (no migration); uuid-1 (STOP_COPY, P2P, PRE_COPY)",
    );
  });
});
