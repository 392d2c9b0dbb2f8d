/**
 * The names of the benchmarks in bench/index.ts, in its order. Kept apart so that the CLI can
 * list them in its help without loading every benchmark and what it measures.
 */
export const BENCHMARK_NAMES: readonly string[] = [
  "dirty-harvest",
  "dirty-harvest-hwpt",
  "dirty-harvest-dmalog",
  "dma-throughput",
  "sparse-memory",
  "kernel-cell",
  "fuzz",
  "migration-sim",
  "migration-property",
  "notebooks",
  "site-build",
  "live-cell",
];
