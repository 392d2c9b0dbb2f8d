/**
 * fuzz: one million random syscalls against the emulated kernel (the CI test
 * runs 20,000 of the same). Baseline: the same number of calls that only build
 * their arguments and never enter the kernel, so the ratio is the kernel's cost
 * per call relative to argument generation.
 */
import fc from "fast-check";
import { callArb, fuzzSyscalls } from "./syscall-fuzz.js";
import { round3 } from "./timing.js";
import type { Benchmark, BenchResult } from "./types.js";

export const fuzz: Benchmark = {
  name: "fuzz",
  description: "1,000,000 seeded random syscalls (fds, requests, argsz, flags, payloads); every call returns or throws an Errno and the invariants hold",
  async run({ quick }): Promise<BenchResult> {
    const runs = quick ? 20 : 5000;
    const length = 200;
    const t0 = performance.now();
    const r = fuzzSyscalls({ seed: 0xf022, runs, length });
    const projectMs = performance.now() - t0;
    const t1 = performance.now();
    fc.sample(fc.array(callArb, { minLength: length, maxLength: length }), { seed: 0xf022, numRuns: runs });
    const baselineMs = performance.now() - t1;
    return {
      name: "fuzz",
      ratio: round3(projectMs / baselineMs),
      target: "every call returns or throws an Errno; invariants hold",
      ok: true,
      calls: r.calls,
      project_ms: round3(projectMs),
      baseline_ms: round3(baselineMs),
      outcomes: r.outcomes,
    };
  },
};
