import { describe, expect, it } from "vitest";
import { migrationSim } from "../../bench/migration-sim.js";
import { migrationProperty } from "../../bench/migration-property.js";
import { benchmarks } from "../../bench/index.js";

describe("migration benchmarks", () => {
  it("are registered", () => {
    expect(benchmarks.map((b) => b.name)).toEqual(expect.arrayContaining(["migration-sim", "migration-property"]));
  });

  it("migration-sim produces a well-formed result", async () => {
    const r = await migrationSim.run({ quick: true });
    expect(r.name).toBe("migration-sim");
    expect(typeof r.ratio).toBe("number");
    expect(r).toMatchObject({ converged: true, vfs: 8, quick: true });
    expect(typeof r.wall_s).toBe("number");
    expect(typeof r.rss_mb).toBe("number");
  });

  it("migration-property produces a well-formed result", async () => {
    const r = await migrationProperty.run({ quick: true });
    expect(r).toMatchObject({ name: "migration-property", ratio: null, ok: true, runs: 20, violation: null });
  });
});
