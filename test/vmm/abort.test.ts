import { describe, expect, it } from "vitest";
import { checkScenario, type MigrationScenario } from "../../kernel-lib/vmm/scenario.js";
import { SimulatedVm, migrate, type AbortPhase } from "../../kernel-lib/vmm/index.js";

const PHASES: AbortPhase[] = ["setup", "pre-copy", "quiesce", "stop-copy", "resume", "irq-restore", "run"];

function scenario(abortAt: MigrationScenario["migrate"]["abortAt"], stop: "p2p-first" | "one-step" = "p2p-first"): MigrationScenario {
  return {
    seed: 21,
    memory: "32MiB",
    devices: [{ model: "nic" }, { model: "accel" }, { model: "nic", stateSize: 256 << 10 }],
    workload: { p2pPerSecond: 20_000, packetsPerSecond: 5_000 },
    runBeforeNs: 5e6,
    migrate: { abortAt, stop },
  };
}

describe("aborting a migration", () => {
  for (const phase of PHASES) {
    it(`at ${phase}: the source runs again with its memory intact, the destination is reset`, async () => {
      const rep = await checkScenario(scenario(phase));
      expect(rep.violations).toEqual([]);
      expect(rep.migrated).toBe(false);
      expect(rep.result.abortKind).toBe("injected");
      expect(rep.result.failedIn).toBe(phase);
      expect(rep.result.timeline.phases.at(-1)!.name).toBe("abort");
    });
  }

  it("at a device step (the second device of the quiesce, one-step), with the first already stopped", async () => {
    const rep = await checkScenario(scenario({ phase: "quiesce", device: 1 }, "one-step"));
    expect(rep.violations).toEqual([]);
    expect(rep.result.devices[0]!.sourcePath).toContain("STOP_COPY");
    expect(rep.result.devices[0]!.sourcePath.at(-1)).toBe("RUNNING");
  });

  it("in a given pre-copy round", async () => {
    const rep = await checkScenario(scenario({ phase: "pre-copy", iteration: 0 }));
    expect(rep.violations).toEqual([]);
    expect(rep.result.error).toMatch(/round 0/);
    expect(rep.result.iterations).toHaveLength(0);
  });

  it("on an error: a corrupt stream makes the destination refuse the state", async () => {
    const rep = await checkScenario({ ...scenario(undefined), devices: [{ model: "nic", faulty: "corrupt-stream" }] });
    expect(rep.violations).toEqual([]);
    expect(rep.result.abortKind).toBe("error");
    expect(rep.result.error).toMatch(/EINVAL/);
  });

  it("on an arc that leaves a device in ERROR: the device is reset and the others resume", async () => {
    const rep = await checkScenario({ ...scenario(undefined), devices: [{ model: "nic", faulty: "arc-fails-to-error", faultyOptions: { arc: "stop" } }, { model: "nic" }] });
    expect(rep.violations).toEqual([]);
    expect(rep.result.error).toMatch(/ERROR/);
    expect(rep.result.warnings.some((w) => w.includes("reset"))).toBe(true);
  });

  it("resets and closes the destination's devices", async () => {
    const vm = new SimulatedVm({ memory: "32MiB", seed: 2, devices: [{ model: "nic" }, { model: "accel" }] });
    vm.run(2e6);
    const r = await migrate(vm, { abortAt: "irq-restore" });
    expect(r.ok).toBe(false);
    const dst = vm.machines[1]!;
    for (const d of dst.devices) expect(d.model.runState).toBe("running");
    expect(vm.host.machine).toBe(vm.source);
    expect(r.downtimeNs).toBeGreaterThan(0);
  });
});

describe("abort points", () => {
  it("must name a phase", async () => {
    const vm = new SimulatedVm({ memory: "16MiB", seed: 2 });
    await expect(migrate(vm, { abortAt: "precopy" as AbortPhase })).rejects.toThrow(/not a phase/);
  });
});
