/**
 * A benchmark reports its own time against a baseline measured in the same run,
 * so results compare across machines: `ratio` = project time / baseline time.
 */
export interface BenchResult {
  name: string;
  /** project time divided by baseline time, measured in the same run (lower is better) */
  ratio: number | null;
  /** what the issue set as the goal, e.g. "ratio <= 2" */
  target: string;
  /** whether the target was met in this run */
  ok: boolean;
  /** further measurements (ms, rss_mb, wall_s, ...) */
  [key: string]: unknown;
}

export interface BenchOptions {
  /** smaller sizes, for smoke tests of the benchmark code itself (never for published numbers) */
  quick: boolean;
}

export interface Benchmark {
  name: string;
  description: string;
  run(options: BenchOptions): Promise<BenchResult>;
}
