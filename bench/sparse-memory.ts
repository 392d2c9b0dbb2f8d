/**
 * sparse-memory: touch 1% of the pages of a 1 TiB guest (2.68 M pages, scattered, seeded),
 * one 8-byte store per touched page, and report the resident memory this costs.
 * Target: rss_mb < 300. Full 4 KiB backing for those pages would take 10.2 GiB; pages
 * written this lightly stay compact (fill word + a few patched words, exact bytes).
 * `ratio` compares time with storing the same 8-byte values into one preallocated array.
 */
import { Buffer } from "node:buffer";
import { GuestMemory, PAGE_SIZE } from "../hw-emu/hw/memory.js";
import { Random } from "../hw-emu/sim/random.js";
import { round3 } from "./timing.js";
import type { Benchmark, BenchResult } from "./types.js";
import { performance } from "node:perf_hooks";

export const sparseMemory: Benchmark = {
  name: "sparse-memory",
  description: "Touch 1% of a 1 TiB guest (one 8-byte store per page), report RSS growth; target < 300 MB",
  async run({ quick }): Promise<BenchResult> {
    const size = quick ? 2 ** 34 : 2 ** 40;
    const pages = size / PAGE_SIZE;
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const rssBefore = process.memoryUsage().rss;

    const memory = new GuestMemory({ size });
    const stamp = new Uint8Array(8);
    const view = new DataView(stamp.buffer);
    const rng = new Random(0x5a5e);
    let touched = 0;
    const t0 = performance.now();
    for (let p = rng.int(0, 199); p < pages; p += rng.int(1, 199)) {
      view.setUint32(0, p, true);
      view.setUint32(4, ~p, true);
      memory.write(p * PAGE_SIZE + ((p & 511) << 3), stamp);
      touched++;
    }
    const projectMs = performance.now() - t0;
    const rssMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    const stats = memory.stats();
    if (stats.allocatedPages !== touched || stats.densePages !== 0) throw new Error(`sparse-memory: unexpected page stats ${JSON.stringify(stats)}`);

    // spot-check exact contents of a few touched pages, and that the rest still reads as zeros
    const check = new Random(0x5a5e);
    for (let p = check.int(0, 199), i = 0; p < pages && i < 1000; p += check.int(1, 199), i++) {
      view.setUint32(0, p, true);
      view.setUint32(4, ~p, true);
      const page = memory.read(p * PAGE_SIZE, PAGE_SIZE);
      const off = (p & 511) << 3;
      if (Buffer.compare(page.subarray(off, off + 8), stamp) !== 0) throw new Error(`sparse-memory: page ${p} lost its data`);
      if (page.some((b, j) => b !== 0 && (j < off || j >= off + 8))) throw new Error(`sparse-memory: page ${p} has stray bytes`);
    }

    // baseline: the same stores into one preallocated array
    const flat = new Uint8Array(touched * 8);
    const t1 = performance.now();
    for (let i = 0; i < touched; i++) {
      view.setUint32(0, i, true);
      view.setUint32(4, ~i, true);
      flat.set(stamp, i * 8);
    }
    const baselineMs = performance.now() - t1;

    return {
      name: "sparse-memory",
      ratio: round3(projectMs / baselineMs),
      target: "rss_mb < 300",
      ok: rssMb < 300,
      rss_mb: round3(rssMb),
      pages_touched: touched,
      guest_gib: size / 2 ** 30,
      backing_mb: round3(stats.backingBytes / 2 ** 20),
      dense_equivalent_mb: round3((touched * PAGE_SIZE) / 2 ** 20),
      project_ms: round3(projectMs),
      baseline_ms: round3(baselineMs),
      quick,
    };
  },
};
