/**
 * notebooks: the wall time of `check` over every notebook (each in its own kernel, as many at once
 * as there are cores), against the sum of each notebook's time run alone in the same run.
 * Target: ratio <= 0.6 on 2 cores, which shows the notebooks really run side by side.
 * Also reports the slowest notebook's time alone (each should stay under 20 s).
 */
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultJobs, executeNotebook, executeNotebooks, listNotebooks, type NotebookRun } from "../kernel-lib/kernel/notebook-check.js";
import { round3 } from "./timing.js";
import type { Benchmark, BenchResult } from "./types.js";

const NOTEBOOKS = fileURLToPath(new URL("../../notebooks/", import.meta.url));

function failed(runs: NotebookRun[]): string[] {
  return runs.filter((r) => !r.ok).map((r) => `${basename(r.path)}: ${r.invalid[0] ?? r.failures[0]?.message ?? "failed"}`);
}

export const notebooks: Benchmark = {
  name: "notebooks",
  description: "check on all notebooks (parallel) over the sum of each run alone; target ratio <= 0.6 on 2 cores; also the slowest notebook",
  async run({ quick }): Promise<BenchResult> {
    const all = listNotebooks(NOTEBOOKS);
    const paths = quick ? all.slice(0, 2) : all;
    if (paths.length === 0) throw new Error(`notebooks: no notebooks in ${NOTEBOOKS}`);
    const jobs = defaultJobs();

    const alone: Record<string, number> = {};
    for (const path of paths) {
      const run = await executeNotebook(path);
      if (!run.ok) throw new Error(`notebooks: ${failed([run]).join("; ")}`);
      alone[basename(path)] = round3(run.seconds);
    }
    const t0 = performance.now();
    const runs = await executeNotebooks(paths, { jobs });
    const wallS = (performance.now() - t0) / 1000;
    const bad = failed(runs);
    if (bad.length > 0) throw new Error(`notebooks: ${bad.join("; ")}`);

    const sumAloneS = Object.values(alone).reduce((a, b) => a + b, 0);
    const [slowest, slowestS] = Object.entries(alone).reduce((a, b) => (b[1] > a[1] ? b : a));
    const ratio = wallS / sumAloneS;
    return {
      name: "notebooks",
      ratio: round3(ratio),
      target: "ratio <= 0.6 (check --jobs cores vs each alone), slowest < 20 s",
      ok: ratio <= 0.6 && slowestS < 20,
      notebooks: paths.length,
      jobs,
      check_wall_s: round3(wallS),
      sum_alone_s: round3(sumAloneS),
      slowest,
      slowest_s: slowestS,
      alone_s: alone,
      quick,
    };
  },
};
