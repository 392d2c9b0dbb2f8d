import { describe, expect, it } from "vitest";
import { fuzzSyscalls } from "../../bench/syscall-fuzz.js";

describe("syscall fuzzing (seeded)", () => {
  it("20,000 random calls: each returns or throws an Errno, and the invariants hold after every one", () => {
    const r = fuzzSyscalls({ seed: 20261122, runs: 100, length: 200 });
    expect(r.calls).toBeGreaterThanOrEqual(20_000);
    // the fuzzer reaches both successes and a spread of errnos, so it is not stuck on one path
    expect(r.outcomes.ok).toBeGreaterThan(100);
    expect(Object.keys(r.outcomes).length).toBeGreaterThan(6);
  }, 300_000);
});
