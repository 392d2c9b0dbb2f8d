/** Small timing helpers shared by the benchmarks. */
import { performance } from "node:perf_hooks";

/** Best (lowest) wall time in ms of `reps` runs of `fn`, each preceded by untimed `setup`. */
export function bestOf(reps: number, fn: () => void, setup?: () => void): number {
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    setup?.();
    const t0 = performance.now();
    fn();
    const dt = performance.now() - t0;
    if (dt < best) best = dt;
  }
  return best;
}

/** Round to 3 significant decimals for reports. */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Keep a value alive so the optimiser cannot drop the work that produced it. */
export let sink = 0;
export function consume(x: number): void {
  sink = (sink + x) | 0;
}
