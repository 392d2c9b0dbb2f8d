import { describe, expect, it } from "vitest";
import { SimulatedVm, migrate, AUTO_CONVERGE_DEFAULTS, type MigrateOptions } from "../../kernel-lib/vmm/index.js";

const MIB = 2 ** 20;

/**
 * A guest that dirties 6000 pages/s (about 23 MiB/s) over a 12 MiB working set, on an
 * 8 MiB/s link with a 100 ms limit (an 0.8 MiB threshold): pre-copy alone never converges.
 * No devices: their DMA is not throttled, and through 2 MiB IOMMU leaves it alone would
 * keep more than the threshold dirty.
 */
function busyVm(): SimulatedVm {
  return new SimulatedVm({ memory: "16MiB", seed: 9, workload: { pagesPerSecond: 6000, workingSet: 12 * MIB } }).run(1e9);
}
const link: MigrateOptions = { bandwidth: 8 * MIB, downtimeLimitMs: 100 };

describe("auto-converge", () => {
  it("is off by default: the vCPUs are never throttled and pre-copy gives up", async () => {
    const vm = busyVm();
    const r = await migrate(vm, { ...link, maxIterations: 6 });
    expect(r.ok).toBe(true);
    expect(r.converged).toBe(false);
    expect(r.cpuThrottle).toEqual([]);
    expect(r.iterations.every((i) => i.cpuThrottlePct === 0)).toBe(true);
    // what remained when the VMM gave up is reported on the final round
    expect(r.iterations.at(-1)!.pendingBytes).toBeGreaterThan(r.thresholdBytes);
  });

  it("throttles by cpu-throttle-initial, then by cpu-throttle-increment, until pre-copy converges", async () => {
    const vm = busyVm();
    const t0 = vm.now;
    const r = await migrate(vm, { ...link, maxIterations: 60, autoConverge: true });
    expect(r.ok).toBe(true);
    expect(r.converged).toBe(true);
    const pcts = r.cpuThrottle.map((s) => s.pct);
    expect(pcts[0]).toBe(AUTO_CONVERGE_DEFAULTS.initialPct);
    pcts.slice(1).forEach((p, i) => expect(p).toBe(pcts[i]! + AUTO_CONVERGE_DEFAULTS.incrementPct));
    expect(pcts.length).toBeGreaterThanOrEqual(3);
    // a step needs two periods of more than a second each in which the guest dirtied too much
    expect(r.cpuThrottle[0]!.timeNs - t0).toBeGreaterThan(2e9);
    // each round reports the throttle it ran with: the one decided by the latest step at or before it
    for (const it of r.iterations) {
      const step = r.cpuThrottle.filter((s) => s.round <= it.index).at(-1);
      expect(it.cpuThrottlePct).toBe(step ? step.pct : 0);
    }
    // the switchover estimate fits the threshold
    expect(r.iterations.at(-1)!.final).toBe(true);
    expect(r.iterations.at(-1)!.pendingBytes).toBeLessThanOrEqual(r.thresholdBytes);
    // the guest runs at full speed on the destination
    expect(vm.guest.cpuThrottlePct).toBe(0);
  });

  it("a throttled guest dirties fewer pages per second of pre-copy", async () => {
    const r = await migrate(busyVm(), { ...link, maxIterations: 60, autoConverge: true });
    const rate = (pct: number) => {
      const rounds = r.iterations.filter((i) => !i.final && i.index > 0 && i.cpuThrottlePct === pct);
      return rounds.reduce((n, i) => n + i.dirtyPages, 0) / rounds.reduce((n, i) => n + (i.endNs - i.startNs) / 1e9, 0);
    };
    const first = r.cpuThrottle[0]!.pct;
    const last = r.cpuThrottle.at(-2)!.pct;
    expect(rate(last)).toBeLessThan(rate(first));
  });

  it("takes QEMU's parameters and caps the throttle at max-cpu-throttle", async () => {
    const r = await migrate(busyVm(), { ...link, maxIterations: 60, autoConverge: { initialPct: 50, incrementPct: 25, maxPct: 80 } });
    expect(r.cpuThrottle.map((s) => s.pct).slice(0, 3)).toEqual([50, 75, 80]);
  });

  it("lifts the throttle when the migration fails, so the guest runs at full speed on the source", async () => {
    const vm = busyVm();
    const source = vm.host;
    const r = await migrate(vm, { ...link, maxIterations: 12, onNoConvergence: "abort", autoConverge: true });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/did not converge in 12 rounds/);
    expect(r.cpuThrottle.length).toBeGreaterThan(0);
    expect(vm.host).toBe(source);
    expect(vm.guest.cpuThrottlePct).toBe(0);
  });

  it("refuses parameters QEMU would refuse", async () => {
    for (const bad of [{ initialPct: 0 }, { incrementPct: 101 }, { maxPct: 100 }, { triggerThresholdPct: 2.5 }]) {
      await expect(migrate(busyVm(), { ...link, autoConverge: bad })).rejects.toThrow(/autoConverge/);
    }
    expect(() => busyVm().guest.setCpuThrottle(100)).toThrow(/0\.\.99/);
  });
});
