import { describe, it, expect } from "vitest";
import { benchmarks } from "../../bench/index.js";
import { main } from "../../cli/program.js";
import { runBenchmarks } from "../../cli/commands/bench.js";

const MINE = ["dirty-harvest", "dma-throughput", "sparse-memory"];

describe("benchmarks (quick runs)", () => {
  for (const name of MINE) {
    it(`${name} yields a well-formed result`, async () => {
      const bench = benchmarks.find((b) => b.name === name);
      expect(bench).toBeDefined();
      const r = await bench!.run({ quick: true });
      expect(r.name).toBe(name);
      expect(typeof r.ratio).toBe("number");
      expect(Number.isFinite(r.ratio)).toBe(true);
      expect(r.ratio).toBeGreaterThan(0);
      expect(typeof r.target).toBe("string");
      expect(typeof r.ok).toBe("boolean");
      expect(r.quick).toBe(true);
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    });
  }
});

describe("vfio-workbench bench", () => {
  function capture(): { out: string[]; restore: () => void } {
    const out: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      out.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    return { out, restore: () => (process.stdout.write = orig) };
  }

  it("prints one JSON object per line with --json", async () => {
    const c = capture();
    let code: number;
    try {
      code = await main(["bench", "--json", "--quick", "--in-process", "--only", "dirty-harvest"]);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    const lines = c.out.join("").trim().split("\n");
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]!);
    expect(r).toMatchObject({ name: "dirty-harvest", target: "ratio <= 2" });
    expect(typeof r.ratio).toBe("number");
  });

  it("prints a table without --json", async () => {
    const c = capture();
    try {
      await main(["bench", "--quick", "--in-process", "--only", "sparse-memory"]);
    } finally {
      c.restore();
    }
    const text = c.out.join("");
    expect(text).toMatch(/^NAME\s+RATIO\s+TARGET/);
    expect(text).toMatch(/sparse-memory .*rss_mb=/);
  });

  it("refuses unknown benchmark names", async () => {
    const err: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(["bench", "--only", "no-such-bench"]);
    } finally {
      process.stderr.write = orig;
    }
    expect(code).toBe(2);
    expect(err.join("")).toMatch(/unknown benchmark no-such-bench/);
  });

  it("counts a benchmark that throws as a failure and reports it", async () => {
    const c = capture();
    const err: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
    let failed: number;
    try {
      failed = await runBenchmarks(
        [{ name: "broken", description: "throws", run: () => Promise.reject(new Error("boom")) }],
        { json: true, quick: true, inProcess: true },
      );
    } finally {
      c.restore();
      process.stderr.write = orig;
    }
    expect(failed).toBe(1);
    expect(JSON.parse(c.out.join(""))).toMatchObject({ name: "broken", ratio: null, ok: false, error: "Error: boom" });
    expect(err.join("")).toMatch(/benchmark broken failed/);
  });
});
