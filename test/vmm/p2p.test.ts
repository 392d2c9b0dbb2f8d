import { describe, expect, it } from "vitest";
import { SimulatedVm, migrate, sweepP2pRate, type StopMode } from "../../kernel-lib/vmm/index.js";

/** Three NICs ringing each other's doorbells, with doorbells still travelling when the vCPUs stop. */
function peerVm(seed = 11): SimulatedVm {
  return new SimulatedVm({
    memory: 32 * 2 ** 20,
    seed,
    devices: [{ model: "nic" }, { model: "nic" }, { model: "nic" }],
    workload: { p2pPerSecond: 100_000, doorbellLatencyNs: 50_000, packetsPerSecond: 500 },
  });
}

async function run(stop: StopMode, vm = peerVm()) {
  vm.run(5e6);
  const r = await migrate(vm, { stop });
  expect(r.ok).toBe(true);
  return { r, vm };
}

describe("the peer-to-peer hazard", () => {
  it("the one-step stop loses peer writes from still-running devices into stopped ones", async () => {
    const { r, vm } = await run("one-step");
    expect(r.lostP2pWrites.total).toBeGreaterThan(0);
    expect(r.timeline.lostP2PWrites).toBe(r.lostP2pWrites.total);
    // each loss is a write into the BAR of a device that was already stopped
    const lost = vm.source.lab.lostWrites().filter((l) => l.kind === "write" && l.reason === "refused");
    expect(lost.length).toBe(r.lostP2pWrites.source);
    const stoppedFirst = vm.source.devices[0]!.address;
    expect(lost.some((l) => l.target?.startsWith(stoppedFirst))).toBe(true);
  });

  it("quiescing every device with RUNNING_P2P before stopping any loses none", async () => {
    const { r, vm } = await run("p2p-first");
    expect(r.lostP2pWrites).toEqual({ source: 0, destination: 0, total: 0 });
    // the doorbells did happen, on both hosts
    const sent = (m: (typeof vm.machines)[number]) => m.devices.reduce((n, d) => n + (d.model.describe().p2pSent as number), 0);
    expect(sent(vm.machines[0]!)).toBeGreaterThan(100);
    vm.run(2e6);
    expect(sent(vm.machines[1]!)).toBeGreaterThan(0);
  });

  it("the loss needs peer traffic in flight when the vCPUs stop: doorbells that land at once lose nothing", async () => {
    const vm = new SimulatedVm({ memory: 32 * 2 ** 20, seed: 11, devices: [{ model: "nic" }, { model: "nic" }, { model: "nic" }], workload: { p2pPerSecond: 100_000, doorbellLatencyNs: 0 } });
    const { r } = await run("one-step", vm);
    expect(r.lostP2pWrites.total).toBe(0);
  });
});

describe("where peer writes landed (p2pArrivals)", () => {
  const quiesced = (s: string) => s === "RUNNING_P2P" || s === "PRE_COPY_P2P";

  it("p2p-first: peers' writes reach devices in PRE_COPY_P2P and are accepted; none arrives after a stop", async () => {
    const { r } = await run("p2p-first");
    const inP2p = r.p2pArrivals.filter((a) => a.host === "source" && quiesced(a.state));
    expect(inP2p.reduce((n, a) => n + a.accepted, 0)).toBeGreaterThan(0);
    expect(r.p2pArrivals.every((a) => a.refused === 0)).toBe(true);
    expect(r.p2pArrivals.some((a) => a.host === "source" && (a.state === "STOP_COPY" || a.state === "STOP"))).toBe(false);
    // the first device quiesced takes writes from both peers
    expect(inP2p.map((a) => a.device)).toContain("nic0");
  });

  it("one-step: what reaches a device after its stop is refused, and that is exactly what the migration lost", async () => {
    const { r } = await run("one-step");
    const refused = r.p2pArrivals.filter((a) => a.host === "source").reduce((n, a) => n + a.refused, 0);
    expect(refused).toBe(r.lostP2pWrites.source);
    for (const a of r.p2pArrivals) if (a.refused > 0) expect(a.state).toBe("STOP_COPY");
    expect(r.p2pArrivals.some((a) => quiesced(a.state))).toBe(false);
  });

  it("files each write under the state its target was in: one row per host, device and state", async () => {
    const { r } = await run("p2p-first");
    const keys = r.p2pArrivals.map((a) => `${a.host}/${a.device}/${a.state}`);
    expect(new Set(keys).size).toBe(keys.length);
    // nic0 goes to PRE_COPY at once; its peers take writes as RUNNING until their own arc
    expect(keys.filter((k) => k.endsWith("/RUNNING") && k.startsWith("source/"))).toEqual(["source/nic1/RUNNING", "source/nic2/RUNNING"]);
    // the destination's devices take writes once the guest runs there, and none before
    expect(r.p2pArrivals.filter((a) => a.host === "destination").map((a) => a.state)).toEqual(["RUNNING", "RUNNING", "RUNNING"]);
  });

  it("the writes p2p-first lets a quiesced device take are the ones the one-step stop loses", async () => {
    const lost = (await run("one-step")).r.lostP2pWrites.total;
    const taken = (await run("p2p-first")).r.p2pArrivals.filter((a) => quiesced(a.state)).reduce((n, a) => n + a.accepted, 0);
    expect(lost).toBeGreaterThan(0);
    expect(taken).toBe(lost);
  });
});

describe("QEMU's multi-device rule (requireP2pForMultipleDevices)", () => {
  it("refuses a VM with a device that cannot be P2P-quiesced, before anything moves", async () => {
    const vm = new SimulatedVm({ memory: "32MiB", seed: 3, devices: [{ model: "nic" }, { model: "accel" }] });
    vm.run(2e6);
    const r = await migrate(vm, { requireP2pForMultipleDevices: true });
    expect(r.ok).toBe(false);
    expect(r.failedIn).toBe("setup");
    expect(r.error).toMatch(/^Multiple VFIO devices migration is supported only if all of them support P2P migration: accel1 does not set VFIO_MIGRATION_P2P$/);
    expect(vm.machines).toHaveLength(1);
    expect(vm.host.devices.map((d) => d.migration.state())).toEqual(["RUNNING", "RUNNING"]);
  });

  it("lets a single device without P2P migrate, and several devices that all have it", async () => {
    const one = new SimulatedVm({ memory: "32MiB", seed: 3, devices: [{ model: "accel" }] });
    expect((await migrate(one.run(2e6), { requireP2pForMultipleDevices: true })).ok).toBe(true);
    const nics = new SimulatedVm({ memory: "32MiB", seed: 3, devices: [{ model: "nic" }, { model: "nic" }] });
    expect((await migrate(nics.run(2e6), { requireP2pForMultipleDevices: true })).ok).toBe(true);
  });

  it("is off by default: the same VM migrates, the accelerator stopped with no quiesce step", async () => {
    const vm = new SimulatedVm({ memory: "32MiB", seed: 3, devices: [{ model: "nic" }, { model: "accel" }] });
    const r = await migrate(vm.run(2e6));
    expect(r.ok).toBe(true);
    expect(r.devices[1]!.sourcePath).toEqual(["RUNNING", "PRE_COPY", "STOP_COPY", "STOP"]);
  });
});

describe("sweepP2pRate", () => {
  const base = { memory: "32MiB", seed: 11, devices: [{ model: "nic" as const }, { model: "nic" as const }, { model: "nic" as const }], workload: { doorbellLatencyNs: 50_000, packetsPerSecond: 500 } };

  it("one point per rate and stop order; the one-step stop loses more as the rate grows, p2p-first loses none", async () => {
    const points = await sweepP2pRate({ vm: base, rates: [0, 20_000, 100_000] });
    expect(points.map((p) => `${p.p2pPerSecond}/${p.stop}`)).toEqual(["0/one-step", "0/p2p-first", "20000/one-step", "20000/p2p-first", "100000/one-step", "100000/p2p-first"]);
    expect(points.every((p) => p.ok)).toBe(true);
    const oneStep = points.filter((p) => p.stop === "one-step").map((p) => p.lostP2pWrites);
    expect(oneStep[0]).toBe(0);
    expect(oneStep[1]).toBeGreaterThan(0);
    expect(oneStep[2]).toBeGreaterThan(oneStep[1]!);
    expect(points.filter((p) => p.stop === "p2p-first").map((p) => p.lostP2pWrites)).toEqual([0, 0, 0]);
    // with traffic, p2p-first had writes land on quiesced devices, and took them
    expect(points[5]!.acceptedWhileQuiesced).toBeGreaterThan(0);
    expect(points[4]!.acceptedWhileQuiesced).toBe(0);
  });

  it("measures the P2P write rate the devices made: each ordered pair at the offered rate", async () => {
    const [p] = await sweepP2pRate({ vm: base, rates: [100_000], stops: ["p2p-first"], runBeforeNs: 10_000_000 });
    // 3 NICs: 6 ordered pairs at 100 000/s; the first doorbells of the run are still in flight at its end
    expect(p!.p2pWritesPerSecond).toBeGreaterThan(0.95 * 600_000);
    expect(p!.p2pWritesPerSecond).toBeLessThanOrEqual(600_000);
  });

  it("is deterministic, and each point starts from a fresh VM", async () => {
    const o = { vm: base, rates: [50_000, 50_000], stops: ["one-step" as const] };
    const a = await sweepP2pRate(o);
    expect(a[0]).toEqual(a[1]);
    expect(await sweepP2pRate(o)).toEqual(a);
  });

  it("rejects what it cannot sweep", async () => {
    await expect(sweepP2pRate({ vm: base, rates: [] })).rejects.toThrow(/rates must be a non-empty array/);
    await expect(sweepP2pRate({ vm: base, rates: [-1] })).rejects.toThrow(/finite number >= 0, got -1/);
    await expect(sweepP2pRate({ vm: base, rates: [1], stops: ["both" as never] })).rejects.toThrow(/stop must be "one-step" or "p2p-first", got "both"/);
    await expect(sweepP2pRate({ vm: base, rates: [1], runBeforeNs: 0 })).rejects.toThrow(/runBeforeNs must be a positive integer/);
  });
});
