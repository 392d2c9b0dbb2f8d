/** Quick runs of the ioctl-path harvest benchmarks: well-formed results (never wall-clock times). */
import { describe, expect, it } from "vitest";
import { benchmarks } from "../../bench/index.js";

describe("harvest benchmarks through the ioctl path (quick runs)", () => {
  for (const name of ["dirty-harvest-hwpt", "dirty-harvest-dmalog"]) {
    it(`${name} is registered after dirty-harvest and yields a well-formed result`, async () => {
      const names = benchmarks.map((b) => b.name);
      expect(names.indexOf(name)).toBeGreaterThan(names.indexOf("dirty-harvest"));
      const r = await benchmarks.find((b) => b.name === name)!.run({ quick: true });
      expect(r.name).toBe(name);
      expect(typeof r.ratio).toBe("number");
      expect(Number.isFinite(r.ratio)).toBe(true);
      expect(r.ratio).toBeGreaterThan(0);
      expect(r.target).toBe("ratio <= 2");
      expect(typeof r.ok).toBe("boolean");
      expect(r.quick).toBe(true);
      // 16 GiB at 4 KiB pages: a 512 KiB bitmap, about 1% of 4 Mi pages dirty (the benchmark checks the exact bits itself)
      expect(r.bitmap_mib).toBe(0.5);
      expect(r.dirty_pages).toBeGreaterThan(40_000);
      expect(r.dirty_pages).toBeLessThan(44_000);
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    });
  }
});
