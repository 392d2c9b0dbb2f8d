import { describe, expect, it } from "vitest";
import { kernelCell } from "../../bench/kernel-cell.js";
import { requireBuild } from "./helpers.js";

describe("kernel-cell benchmark", () => {
  it("produces a well-formed result in quick mode", async () => {
    requireBuild();
    const result = await kernelCell.run({ quick: true });
    expect(result.name).toBe("kernel-cell");
    expect(result.target).toBe("ratio <= 1.2");
    expect(typeof result.ratio).toBe("number");
    expect(result.ratio).toBeGreaterThan(0);
    expect(typeof result.ok).toBe("boolean");
    for (const key of ["kernel_median_ms", "baseline_median_ms", "kernel_p90_ms", "baseline_p90_ms", "jupyter_floor_overhead_ms", "zeromq_floor_overhead_ms"]) {
      expect(result[key]).toBeGreaterThan(0);
    }
    // the floor peers wait as long as tslab took, so their round trips cannot be shorter
    expect(result.jupyter_floor_ratio).toBeGreaterThan(1);
    expect(result.zeromq_floor_ratio).toBeGreaterThan(1);
  });
});
