import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { migrationScenario } from "../../bench/migration-scenarios.js";
import { checkScenario } from "../../kernel-lib/vmm/scenario.js";

const RUNS = Number(process.env.VMM_PROPERTY_RUNS ?? 500);

describe("migrations with random devices, workloads, links, faults and aborts", () => {
  it(`hold their invariants (${RUNS} runs)`, async () => {
    let migrated = 0;
    let failed = 0;
    await fc.assert(
      fc.asyncProperty(migrationScenario(), async (s) => {
        const r = await checkScenario(s);
        if (r.migrated) migrated++;
        else failed++;
        if (r.violations.length > 0) throw new Error(`${r.violations.join("; ")}\n(result: ${r.result.error ?? "ok"})`);
      }),
      { seed: 42, numRuns: RUNS },
    );
    console.log(`migrated ${migrated}, failed ${failed}`);
    expect(migrated + failed).toBe(RUNS);
  }, 600_000);
});
