/**
 * migration-property: the property test of the migration orchestrator at full
 * size: 500 random migrations (device mixes with faulty devices, workloads, link
 * speeds, tracking and stop modes, aborts at random points), each checked with
 * checkScenario. Target: no violation. There is nothing to compare its time with,
 * so ratio is null; wall_s tells whether the CI count (VMM_PROPERTY_RUNS) could grow.
 */
import { performance } from "node:perf_hooks";
import { checkScenario } from "../kernel-lib/vmm/scenario.js";
import { round3 } from "./timing.js";
import type { Benchmark, BenchResult } from "./types.js";

export const migrationProperty: Benchmark = {
  name: "migration-property",
  description: "500 random migrations (devices, faults, links, aborts) checked end to end; target: no violation",
  async run({ quick }): Promise<BenchResult> {
    // fast-check is a development dependency: load it only when this benchmark runs
    let fc: typeof import("fast-check").default;
    let scenarios: typeof import("./migration-scenarios.js");
    try {
      fc = (await import("fast-check")).default;
      scenarios = await import("./migration-scenarios.js");
    } catch (e) {
      throw new Error(`migration-property needs the fast-check development dependency (npm install in a checkout): ${(e as Error).message}`);
    }
    const runs = quick ? 20 : 500;
    let migrated = 0;
    let failed = 0;
    let violation = "";
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(scenarios.migrationScenario(), async (s) => {
        const r = await checkScenario(s);
        if (r.migrated) migrated++;
        else failed++;
        if (r.violations.length > 0) {
          violation = r.violations[0]!;
          throw new Error(r.violations.join("; "));
        }
      }),
      { seed: 42, numRuns: runs, endOnFailure: true },
    ).catch(() => undefined);
    const wallS = (performance.now() - t0) / 1000;
    return {
      name: "migration-property",
      ratio: null,
      target: `no violation in ${runs} runs`,
      ok: violation === "",
      runs,
      migrated,
      failed,
      violation: violation || null,
      wall_s: round3(wallS),
      quick,
    };
  },
};
