import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { benchmarks } from "../../bench/index.js";
import { liveCell } from "../../bench/live-cell.js";
import { requireBuild } from "../kernel/helpers.js";

describe.skipIf(!existsSync("/usr/bin/chromium"))("the live-cell benchmark", () => {
  it("is registered, and its quick run times the cell in chromium and through the kernel, and weighs the live code", async () => {
    requireBuild();
    expect(benchmarks.map((b) => b.name)).toContain("live-cell");
    const r = await liveCell.run({ quick: true });
    expect(r).toMatchObject({ name: "live-cell", rounds: 5, quick: true });
    expect(r.live_ms as number).toBeGreaterThan(0);
    expect(r.kernel_ms as number).toBeGreaterThan(0);
    expect(r.ratio).toBeCloseTo((r.live_ms as number) / (r.kernel_ms as number), 2);
    // what a page loads: the library, its chunks, the runner, the worker and the page's editors
    expect(r.live_gzip_bytes as number).toBeGreaterThan(300_000);
  }, 120_000);
});
