import { describe, expect, it } from "vitest";
import { FLAG_SETS, directArcs } from "../../hw-emu/uapi/migration-fsm.js";
import { parseDeviceArg, parseLocator, planChecks, type Capabilities } from "../../kernel-lib/conformance/index.js";
import { faultsFor } from "../../kernel-lib/conformance/target.js";

describe("naming targets", () => {
  it("parses models and faulty variants (a NIC unless a model is named)", () => {
    expect(parseDeviceArg("nic")).toEqual({ kind: "emulated", model: "nic" });
    expect(parseDeviceArg("serial")).toEqual({ kind: "emulated", model: "serial" });
    expect(parseDeviceArg("faulty:short-stream")).toEqual({ kind: "emulated", model: "nic", faulty: "short-stream" });
    expect(parseDeviceArg("faulty:dma-after-stop:accel")).toEqual({ kind: "emulated", model: "accel", faulty: "dma-after-stop" });
  });

  it("refuses what cannot be built, in one line", () => {
    expect(() => parseDeviceArg("gpu")).toThrow(/^unknown device "gpu"; choose nic, accel, serial or faulty:RULE\[:MODEL\]$/);
    expect(() => parseDeviceArg("faulty:melt")).toThrow(/unknown fault rule "melt"; rules: dma-after-stop, /);
    expect(() => parseDeviceArg("faulty:dirty-page-not-logged:serial")).toThrow(/the serial model cannot break "dirty-page-not-logged"; it can break short-stream, corrupt-stream, arc-fails-to-error/);
    expect(() => parseDeviceArg("broken:x")).toThrow(/write faulty:RULE/);
    expect(() => parseDeviceArg("faulty:short-stream:nic:extra")).toThrow(RangeError);
  });

  it("knows which rules each model can break", () => {
    expect(faultsFor("nic")).toHaveLength(6);
    expect(faultsFor("accel")).toEqual(["dma-after-stop", "short-stream", "corrupt-stream", "arc-fails-to-error"]);
    expect(faultsFor("serial")).toEqual(["short-stream", "corrupt-stream", "arc-fails-to-error"]);
  });

  it("parses device locators", () => {
    expect(parseLocator("/dev/vfio/devices/vfio3")).toEqual({ cdev: "/dev/vfio/devices/vfio3" });
    expect(parseLocator("12:0000:01:00.1")).toEqual({ group: 12, bdf: "0000:01:00.1" });
    expect(() => parseLocator("0000:01:00.1x")).toThrow(/names no device/);
  });
});

describe("planning", () => {
  const caps = (flags: number): Capabilities => ({
    flags,
    migration: true,
    stopCopy: true,
    p2p: (flags & 2) !== 0,
    preCopy: (flags & 4) !== 0,
    dmaLogging: false,
    reset: true,
    lab: false,
    dma: false,
    p2pInitiator: false,
    peerTarget: false,
  });

  it("gives one arc check per direct arc of each legal flag set, and stable unique ids", () => {
    for (const set of FLAG_SETS) {
      const ids = planChecks(caps(set.flags)).map((c) => c.id);
      expect(new Set(ids).size, set.name).toBe(ids.length);
      const arcs = ids.filter((id) => id.startsWith("fsm.arc ")).sort();
      expect(arcs, set.name).toEqual(directArcs(set.flags).map(([a, b]) => `fsm.arc ${a}->${b}`).sort());
      for (const c of planChecks(caps(set.flags))) expect(c.description.length, c.id).toBeGreaterThan(10);
    }
  });
});
