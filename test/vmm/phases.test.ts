import { describe, expect, it } from "vitest";
import { SimulatedVm, migrate, type MigrateOptions, type MigrationResult } from "../../kernel-lib/vmm/index.js";
import { NicVf } from "../../hw-emu/hw/devices/nic-vf.js";
import { deviceSnapshot } from "../../hw-emu/lab/devices.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";

const MIB = 2 ** 20;

function vmWith(opts: Partial<ConstructorParameters<typeof SimulatedVm>[0]> = {}): SimulatedVm {
  return new SimulatedVm({ memory: 32 * MIB, devices: [{ model: "nic" }, { model: "accel" }, { model: "nic" }], seed: 7, ...opts });
}

async function migrated(vm: SimulatedVm, o: MigrateOptions = {}): Promise<MigrationResult> {
  vm.run(10e6);
  const r = await migrate(vm, o);
  expect(r.error).toBeUndefined();
  expect(r.ok).toBe(true);
  return r;
}

const phase = (r: MigrationResult, name: string, device?: string) => r.timeline.phases.filter((p) => p.name === name && p.device === device);

describe("setup", () => {
  it("starts the trackers the tracking mode names, moves pre-copy devices to PRE_COPY and the destination to RESUMING", async () => {
    const vm = vmWith({ devices: [{ model: "nic" }, { model: "accel", preCopy: false }] });
    const r = await migrated(vm, { tracking: "device-log" });
    // the accelerator cannot log its DMA, so the IOMMU tracks its writes
    expect(r.trackers).toEqual(["device-log:nic0", "iommufd"]);
    expect(r.devices[0]!.sourcePath.slice(0, 2)).toEqual(["RUNNING", "PRE_COPY"]);
    expect(r.devices[1]!.sourcePath).not.toContain("PRE_COPY");
    expect(r.devices[0]!.destinationPath.slice(0, 4)).toEqual(["RUNNING", "RUNNING_P2P", "STOP", "RESUMING"]);
    expect(r.devices[1]!.destinationPath.slice(0, 3)).toEqual(["RUNNING", "STOP", "RESUMING"]);
    expect(phase(r, "setup")).toHaveLength(1);
  });

  it("merges every tracker into one when asked", async () => {
    const r = await migrated(vmWith(), { tracking: "merged" });
    expect(r.trackers).toEqual(["merged(iommufd,device-log:nic0,device-log:nic2)"]);
    expect(Object.keys(r.iterations.at(-1)!.perTracker).sort()).toEqual(["cpu", "merged(iommufd,device-log:nic0,device-log:nic2)"]);
  });

  it("refuses type1 tracking on a VM whose devices sit in an iommufd IOAS", async () => {
    const vm = vmWith({ iommu: "iommufd" });
    await expect(migrate(vm, { tracking: "type1" })).rejects.toThrow(/iommufd/);
  });

  it("fails cleanly when the IOMMU cannot track dirty pages", async () => {
    const vm = vmWith({ iommuDirtyTracking: false });
    vm.run(1e6);
    const r = await migrate(vm, { tracking: "iommufd" });
    expect(r.ok).toBe(false);
    expect(r.failedIn).toBe("setup");
    expect(r.error).toMatch(/iommufd dirty tracking is unavailable/);
    expect(vm.host.devices.map((d) => d.migration.state())).toEqual(["RUNNING", "RUNNING", "RUNNING"]);
  });
});

describe("pre-copy", () => {
  it("copies all RAM in round 0, then only what the trackers report, until the rest fits the downtime", async () => {
    // a link just fast enough for the guest's 40 MB/s of stores: rounds shrink slowly
    const vm = vmWith({ devices: [{ model: "nic", stateSize: 64 << 10 }, { model: "nic", stateSize: 64 << 10 }], workload: { pagesPerSecond: 10_000 } });
    const r = await migrated(vm, { bandwidth: 64 * MIB, downtimeLimitMs: 10, tracking: "device-log" });
    expect(r.iterations.length).toBeGreaterThanOrEqual(4);
    const pages = (32 * MIB) / 4096;
    expect(r.iterations[0]!.dirtyPages).toBe(pages);
    expect(r.iterations[0]!.dataPages + r.iterations[0]!.zeroPages).toBe(pages);
    for (const it of r.iterations.slice(1)) expect(it.dirtyPages).toBeLessThan(pages);
    // every pre-copy round after the first was needed: what remained did not fit
    for (const it of r.iterations.slice(1).filter((i) => !i.final)) expect(it.pendingBytes).toBeGreaterThan(r.thresholdBytes);
    expect(r.converged).toBe(true);
    // the NIC's initial state went over during pre-copy
    expect(r.devices[0]!.preCopyBytes).toBeGreaterThanOrEqual(64 << 10);
    const sum = r.iterations.reduce((n, i) => n + i.ramBytes + i.deviceBytes, 0);
    expect(sum).toBe(r.bytes.total);
  });

  it("with type1 every sync reports every mapped page", async () => {
    const vm = vmWith({ iommu: "type1" });
    const r = await migrated(vm, { tracking: "type1" });
    for (const it of r.iterations) expect(it.dirtyPages).toBe((32 * MIB) / 4096);
    expect(r.iterations.at(-1)!.perTracker.type1).toBeGreaterThanOrEqual((32 * MIB) / 4096);
  });

  it("gives up after maxIterations when it cannot converge", async () => {
    const vm = vmWith({ workload: { pagesPerSecond: 30_000, workingSet: 4 * MIB } });
    vm.run(5e6);
    const slow = await migrate(vm, { bandwidth: 8 * MIB, downtimeLimitMs: 10, maxIterations: 3, onNoConvergence: "abort" });
    expect(slow.ok).toBe(false);
    expect(slow.error).toMatch(/did not converge in 3 rounds/);
    const vm2 = vmWith({ workload: { pagesPerSecond: 30_000, workingSet: 4 * MIB } });
    vm2.run(5e6);
    const forced = await migrate(vm2, { bandwidth: 8 * MIB, downtimeLimitMs: 10, maxIterations: 3 });
    expect(forced.ok).toBe(true);
    expect(forced.converged).toBe(false);
    expect(forced.downtimeNs).toBeGreaterThan(forced.downtimeLimitNs);
  });
});

describe("quiesce and stop-copy", () => {
  it("p2p-first quiesces every P2P device before stopping any", async () => {
    const r = await migrated(vmWith(), { stop: "p2p-first" });
    const quiesced = r.timeline.phases.filter((p) => p.name === "quiesce" && p.device);
    const stopped = r.timeline.phases.filter((p) => p.name === "stop" && p.device);
    expect(quiesced.map((p) => p.device)).toEqual(["nic0", "nic2"]);
    expect(stopped.map((p) => p.device)).toEqual(["nic0", "accel1", "nic2"]);
    expect(Math.max(...quiesced.map((p) => p.endNs))).toBeLessThanOrEqual(Math.min(...stopped.map((p) => p.startNs)));
    expect(r.devices[0]!.sourcePath).toEqual(["RUNNING", "PRE_COPY", "PRE_COPY_P2P", "STOP_COPY", "STOP"]);
    // the accelerator has no P2P state
    expect(r.devices[1]!.sourcePath).toEqual(["RUNNING", "PRE_COPY", "STOP_COPY", "STOP"]);
  });

  it("one-step stops each device straight to STOP_COPY, one after the other", async () => {
    const r = await migrated(vmWith(), { stop: "one-step" });
    const steps = r.timeline.phases.filter((p) => p.name === "stop" && p.device);
    expect(steps.map((p) => p.device)).toEqual(["nic0", "accel1", "nic2"]);
    // no device is P2P-quiesced on its own first: the kernel walks PRE_COPY_P2P inside the one arc
    expect(r.timeline.phases.some((p) => p.name === "quiesce" && p.device)).toBe(false);
    expect(r.devices[0]!.sourcePath).toEqual(["RUNNING", "PRE_COPY", "PRE_COPY_P2P", "STOP_COPY", "STOP"]);
  });

  it("reads every device's data to the end and hands the destination the source's RAM and device state", async () => {
    const vm = vmWith();
    vm.run(10e6);
    let atSwitch: { ram: string; nic: Uint8Array } | null = null;
    let atLoad: { ram: string; nic: Uint8Array } | null = null;
    const r = await migrate(vm, {
      hooks: {
        switchover: ({ source }) => (atSwitch = { ram: source.ram.digest(), nic: deviceSnapshot(source.devices[0]!.entry.model) }),
        destinationLoaded: ({ destination }) => (atLoad = { ram: destination!.ram.digest(), nic: deviceSnapshot(destination!.devices[0]!.entry.model) }),
      },
    });
    expect(r.ok).toBe(true);
    expect(atSwitch!.ram).toBe(atLoad!.ram);
    expect(Buffer.from(atSwitch!.nic).equals(Buffer.from(atLoad!.nic))).toBe(true);
    for (const d of r.devices) expect(d.preCopyBytes + d.stopCopyBytes).toBeGreaterThan(0);
    expect(r.devices[0]!.preCopyBytes + r.devices[0]!.stopCopyBytes).toBeGreaterThanOrEqual(r.devices[0]!.dataSize);
    expect(r.iterations.at(-1)!.final).toBe(true);
  });

  it("fails the migration when a device writes guest RAM after STOP (caught by the post-stop sync)", async () => {
    const vm = vmWith({ devices: [{ model: "nic", faulty: "dma-after-stop" }], workload: { packetsPerSecond: 20_000 } });
    vm.run(5e6);
    // a large device state keeps the stop-copy long enough for packets to arrive
    const r = await migrate(vm, { bandwidth: 256 * MIB, costs: { deviceArcNs: 2_000_000 } });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/after every device had stopped|after the END record/);
    expect(vm.host.devices[0]!.migration.state()).toBe("RUNNING");
  });
});

describe("resume and run", () => {
  it("validates the destination state, writes back command register and BARs, then runs the devices", async () => {
    const vm = vmWith();
    const source = (vm.run(1), vm.host);
    const r = await migrated(vm);
    expect(r.devices[0]!.destinationPath.slice(-4)).toEqual(["RESUMING", "STOP", "RUNNING_P2P", "RUNNING"]);
    expect(r.devices[1]!.destinationPath.slice(-3)).toEqual(["RESUMING", "STOP", "RUNNING"]);
    const dst = vm.host;
    expect(dst).not.toBe(source);
    dst.devices.forEach((d, i) => {
      const a = source.devices[i]!.readConfig();
      const b = d.readConfig();
      expect(b.subarray(R.PCI_COMMAND, R.PCI_COMMAND + 2)).toEqual(a.subarray(R.PCI_COMMAND, R.PCI_COMMAND + 2));
      expect(b.subarray(R.PCI_BASE_ADDRESS_0, R.PCI_BASE_ADDRESS_0 + 24)).toEqual(a.subarray(R.PCI_BASE_ADDRESS_0, R.PCI_BASE_ADDRESS_0 + 24));
      expect(d.migration.state()).toBe("RUNNING");
    });
    expect(phase(r, "resume")).toHaveLength(1);
    expect(phase(r, "run")).toHaveLength(1);
  });

  it("lets the guest carry on on the destination", async () => {
    const vm = vmWith();
    await migrated(vm);
    const nic = vm.host.devices[0]!.model as NicVf;
    const rx = nic.describe().rxPackets as number;
    const irqs = vm.guest.interruptsReceived;
    vm.run(20e6);
    expect(nic.describe().rxPackets as number).toBeGreaterThan(rx);
    expect(vm.guest.interruptsReceived).toBeGreaterThan(irqs);
    // and migrate again, from the new host to a third one
    const again = await migrate(vm);
    expect(again.ok).toBe(true);
    expect(vm.machines).toHaveLength(3);
    expect(vm.migrationCount).toBe(2);
  });

  it("counts the downtime from the vCPU stop to their start on the destination", async () => {
    const r = await migrated(vmWith());
    const quiesce = phase(r, "quiesce")[0]!;
    const run = phase(r, "run")[0]!;
    expect(r.downtimeNs).toBe(run.endNs - quiesce.startNs);
    expect(r.timeline.downtimeNs).toBe(r.downtimeNs);
    expect(r.downtimeNs).toBeLessThan(r.downtimeLimitNs);
  });
});

describe("cleanup", () => {
  it("leaves the source devices in STOP and stops every tracker", async () => {
    const vm = vmWith();
    const source = (vm.run(1), vm.host);
    const r = await migrated(vm, { tracking: "merged" });
    expect(source.devices.map((d) => d.migration.state())).toEqual(["STOP", "STOP", "STOP"]);
    expect(source.cpu.enabled).toBe(false);
    expect((source.devices[0]!.model as NicVf).dmaLog!.active).toBe(false);
    const domain = source.machine.hw.iommu.domainOf(source.devices[0]!.model.fn.routingId)!;
    expect(domain.dirtyTracking).toBe(false);
    expect(phase(r, "cleanup")[0]!.startNs).toBeGreaterThanOrEqual(phase(r, "run")[0]!.endNs);
    expect(r.warnings).toEqual([]);
  });
});

describe("the timeline", () => {
  it("is what the display layer draws: a Gantt chart and a dirty heat map", async () => {
    const { migrationTimeline, dirtyHeatmap } = await import("../../kernel-lib/display/index.js");
    const r = await migrated(vmWith(), { tracking: "device-log" });
    const chart = await migrationTimeline(r.timeline);
    expect(chart.data["image/svg+xml"]).toMatch(/^<svg/);
    expect(chart.data["text/plain"]).toMatch(/^Migration timeline: downtime/);
    const heat = await dirtyHeatmap(r.heatmap);
    expect(heat.data["image/svg+xml"]).toMatch(/^<svg/);
    expect(r.heatmap.syncs).toHaveLength(r.iterations.length);
    expect(r.timeline.iterations.map((i) => i.index)).toEqual(r.iterations.map((i) => i.index));
  });
});
