import { describe, expect, it } from "vitest";
import { benchmarks } from "../../bench/index.js";
import { siteBuild } from "../../bench/site-build.js";
import { requireBuild } from "../kernel/helpers.js";

describe("the site-build benchmark", () => {
  it("is registered, and its quick run builds cold, warm (executing nothing) and after one change (executing only it)", async () => {
    requireBuild();
    expect(benchmarks.map((b) => b.name)).toContain("site-build");
    const r = await siteBuild.run({ quick: true });
    expect(r).toMatchObject({ name: "site-build", notebooks: 2, warm_executed: 0, one_changed: "00-first-migration.ipynb", quick: true });
    expect(r.one_changed_executed).toEqual(["00-first-migration.ipynb"]);
    // ratios to the cold build of the same run
    expect(r.ratio).toBeCloseTo((r.warm_s as number) / (r.cold_s as number), 2);
    expect(r.one_changed_ratio).toBeCloseTo((r.one_changed_s as number) / (r.cold_s as number), 2);
  }, 240_000);
});
