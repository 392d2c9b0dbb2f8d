import { describe, expect, it } from "vitest";
import { createEmuBackend } from "../../kernel-lib/backends/emu.js";
import { runConformance, type ConformanceReport } from "../../kernel-lib/conformance/index.js";

const byId = (r: ConformanceReport, id: string) => {
  const c = r.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in the report`);
  return c;
};

const failures = (r: ConformanceReport) => r.checks.filter((c) => c.status === "fail").map((c) => `${c.id}: ${c.detail}`);

describe("conformance on the well-behaved emulated models", () => {
  it("passes on the NIC-like VF, with every lab check run", () => {
    const r = runConformance({ kind: "emulated", model: "nic" });
    expect(failures(r)).toEqual([]);
    expect(r).toMatchObject({ device: "emulated nic", flags: "STOP_COPY,P2P,PRE_COPY", dmaLogging: true, lab: true, failed: 0 });
    expect(r.passed + r.failed + r.skipped).toBe(r.checks.length);
    for (const id of ["lab.stop-stops-dma", "lab.p2p-quiesce", "lab.p2p-accepts-peer-writes", "lab.dirty-logged", "resume.round-trip", "fsm.blocked", "reset.running"]) {
      expect(byId(r, id).status, id).toBe("pass");
    }
    // the only skip: a check for devices without DMA logging
    expect(r.checks.filter((c) => c.status === "skip").map((c) => c.id)).toEqual(["dmalog.enotty-without"]);
    expect(byId(r, "resume.round-trip").detail).toMatch(/state equals the source's/);
    // every direct arc of the full flag set has its own row
    expect(r.checks.filter((c) => c.id.startsWith("fsm.arc ")).length).toBe(15);
  });

  it("passes on the accelerator VF; P2P and device logging checks are skipped with a reason", () => {
    const r = runConformance({ kind: "emulated", model: "accel" });
    expect(failures(r)).toEqual([]);
    expect(r.flags).toBe("STOP_COPY,PRE_COPY");
    expect(byId(r, "lab.stop-stops-dma").status).toBe("pass");
    expect(byId(r, "dmalog.enotty-without").status).toBe("pass");
    expect(byId(r, "lab.p2p-quiesce")).toMatchObject({ status: "skip", detail: "the device does not offer P2P" });
    expect(byId(r, "lab.dirty-logged")).toMatchObject({ status: "skip", detail: expect.stringMatching(/no DMA logging/) });
    expect(byId(r, "fsm.invalid-targets").detail).toMatch(/RUNNING_P2P, PRE_COPY_P2P/);
  });

  it("passes on the accelerator without PRE_COPY", () => {
    const r = runConformance({ kind: "emulated", model: "accel", preCopy: false });
    expect(failures(r)).toEqual([]);
    expect(r.flags).toBe("STOP_COPY");
    expect(r.checks.filter((c) => c.id.startsWith("fsm.arc ")).map((c) => c.id).sort()).toEqual(
      ["fsm.arc RESUMING->STOP", "fsm.arc RUNNING->STOP", "fsm.arc STOP->RESUMING", "fsm.arc STOP->RUNNING", "fsm.arc STOP->STOP_COPY", "fsm.arc STOP_COPY->STOP"].sort(),
    );
    expect(byId(r, "session.single-fd")).toMatchObject({ status: "skip", detail: "the device does not offer PRE_COPY" });
  });

  it("passes on the serial mdev (mtty-like: all eight states, no DMA)", () => {
    const r = runConformance({ kind: "emulated", model: "serial" });
    expect(failures(r)).toEqual([]);
    expect(r.flags).toBe("STOP_COPY,P2P,PRE_COPY");
    expect(byId(r, "lab.stop-stops-dma")).toMatchObject({ status: "skip", detail: "the device does no DMA" });
    // mtty accepts a second DMA_LOGGING_START; the check reports it and still passes
    expect(byId(r, "dmalog.double-start").detail).toMatch(/accepted/);
    expect(byId(r, "resume.round-trip").status).toBe("pass");
  });

  it("gives the same report for the same seed", () => {
    const a = runConformance({ kind: "emulated", model: "nic", seed: 7 }, { only: ["lab.", "precopy."] });
    const b = runConformance({ kind: "emulated", model: "nic", seed: 7 }, { only: ["lab.", "precopy."] });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it("runs only the checks asked for, and reports each as it finishes", () => {
    const seen: string[] = [];
    const r = runConformance({ kind: "emulated", model: "accel" }, { only: ["data.", "reset."], onResult: (c) => seen.push(c.id) });
    expect(r.checks.map((c) => c.id)).toEqual(["data.stop-copy-eof", "data.espipe", "data.direction", "data.enotty", "reset.running"]);
    expect(seen).toEqual(r.checks.map((c) => c.id));
  });
});

describe("conformance through the uAPI alone (the real-device path)", () => {
  it("skips the lab checks, resumes into --peer, and leaves the blocked arcs alone unless asked", () => {
    const m = createEmuBackend({ devices: [{ model: "nic", stateSize: 64 << 10 }, { model: "nic", stateSize: 64 << 10 }] });
    const [a, b] = m.devices;
    const r = runConformance({ kind: "device", sys: m.sys, device: { cdev: a!.cdev }, peer: { group: b!.group, bdf: b!.address } });
    expect(failures(r)).toEqual([]);
    expect(r).toMatchObject({ device: a!.cdev, lab: false });
    for (const c of r.checks.filter((x) => x.id.startsWith("lab."))) {
      expect(c).toMatchObject({ status: "skip", detail: expect.stringMatching(/needs the lab/) });
    }
    expect(byId(r, "resume.round-trip")).toMatchObject({ status: "pass", detail: expect.stringMatching(/resumed and running$/) });
    expect(byId(r, "fsm.blocked")).toMatchObject({ status: "skip", detail: expect.stringMatching(/spin forever/) });
    expect(byId(r, "fsm.paths").detail).toBe("40 pairs");
    // the device is left RUNNING with nothing open
    expect(a!.vfio.migration!.state).toBe("RUNNING");
  });

  it("sends the blocked arcs when asked, and without a peer skips the round trip", () => {
    const m = createEmuBackend({ devices: [{ model: "serial" }] });
    const d = m.devices[0]!;
    const r = runConformance({ kind: "device", sys: m.sys, device: { group: d.group, bdf: d.address } }, { probeBlockedArcs: true, only: ["fsm.blocked", "resume."] });
    expect(byId(r, "fsm.blocked").status).toBe("pass");
    expect(byId(r, "resume.round-trip")).toMatchObject({ status: "skip", detail: expect.stringMatching(/--peer/) });
    expect(r.failed).toBe(0);
  });

  it("fails migration.flags and skips the rest on a device without migration", () => {
    const m = createEmuBackend({ devices: [{ model: "nic", migration: "none" }] });
    const d = m.devices[0]!;
    const r = runConformance({ kind: "device", sys: m.sys, device: { cdev: d.cdev } });
    expect(r.flags).toBe("none");
    expect(byId(r, "migration.flags")).toMatchObject({ status: "fail", detail: expect.stringMatching(/no migration support/) });
    expect(r.failed).toBe(1);
    expect(r.checks.filter((c) => c.status === "pass").map((c) => c.id)).toEqual(["dmalog.enotty-without"]);
  });
});
