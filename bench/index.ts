import { dirtyHarvest } from "./dirty-harvest.js";
import { dirtyHarvestDmaLog } from "./dirty-harvest-dmalog.js";
import { dirtyHarvestHwpt } from "./dirty-harvest-hwpt.js";
import { dmaThroughput } from "./dma-throughput.js";
import { fuzz } from "./fuzz.js";
import { kernelCell } from "./kernel-cell.js";
import { liveCell } from "./live-cell.js";
import { migrationProperty } from "./migration-property.js";
import { migrationSim } from "./migration-sim.js";
import { notebooks } from "./notebooks.js";
import { siteBuild } from "./site-build.js";
import { sparseMemory } from "./sparse-memory.js";
import { BENCHMARK_NAMES } from "./names.js";
import type { Benchmark } from "./types.js";

/** Every benchmark `vfio-workbench bench` runs, in order. Add new ones here. */
export const benchmarks: readonly Benchmark[] = [dirtyHarvest, dirtyHarvestHwpt, dirtyHarvestDmaLog, dmaThroughput, sparseMemory, kernelCell, fuzz, migrationSim, migrationProperty, notebooks, siteBuild, liveCell];

// the CLI lists the names without loading the benchmarks; the two lists must agree
if (benchmarks.map((b) => b.name).join() !== BENCHMARK_NAMES.join()) {
  throw new Error(`bench/names.ts lists ${BENCHMARK_NAMES.join(", ")}, but bench/index.ts has ${benchmarks.map((b) => b.name).join(", ")}`);
}
