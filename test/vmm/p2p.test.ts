import { describe, expect, it } from "vitest";
import { SimulatedVm, migrate, type StopMode } from "../../kernel-lib/vmm/index.js";

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
