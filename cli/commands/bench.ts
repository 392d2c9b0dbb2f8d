import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { BENCHMARK_NAMES } from "../../bench/names.js";
import type { Benchmark, BenchResult } from "../../bench/types.js";
import { UsageError } from "../errors.js";

interface BenchOpts {
  json?: boolean;
  only?: string[];
  quick?: boolean;
  inProcess?: boolean;
}

type Outcome = { result: BenchResult } | { error: string };

/** Run one benchmark in a child node process (with --expose-gc for clean memory figures). */
function runIsolated(bench: Benchmark, quick: boolean): Promise<Outcome> {
  const child = fileURLToPath(new URL("../../bench/child.js", import.meta.url));
  return new Promise((resolve) => {
    let outcome: Outcome | undefined;
    const proc = fork(child, [bench.name, quick ? "1" : "0"], { execArgv: ["--expose-gc"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    proc.on("message", (m) => (outcome = m as Outcome));
    proc.on("error", (err) => resolve({ error: err.message }));
    proc.on("exit", (code, signal) => {
      resolve(outcome ?? { error: `benchmark process exited with ${signal ?? `code ${code}`} and no result` });
    });
  });
}

async function runInProcess(bench: Benchmark, quick: boolean): Promise<Outcome> {
  try {
    return { result: await bench.run({ quick }) };
  } catch (err) {
    return { error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
}

function fmt(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
  if (typeof v === "object" && v !== null) return JSON.stringify(v);
  return String(v);
}

function tableRow(r: BenchResult): string[] {
  const { name, ratio, target, ok, ...rest } = r;
  const details = Object.entries(rest)
    .filter(([k]) => k !== "quick")
    .map(([k, v]) => `${k}=${fmt(v)}`)
    .join(" ");
  return [name, ratio === null ? "-" : fmt(ratio), target, ok ? "yes" : "NO", details];
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ") + "\n");
}

/**
 * Run benchmarks and print their results (JSON lines or a table). Returns how many threw;
 * a missed target is reported in the result, not counted as a failure.
 */
export async function runBenchmarks(selected: readonly Benchmark[], opts: { json: boolean; quick: boolean; inProcess: boolean }): Promise<number> {
  const rows: string[][] = [["NAME", "RATIO", "TARGET", "MET", "MEASUREMENTS"]];
  let failed = 0;
  for (const bench of selected) {
    const outcome = opts.inProcess ? await runInProcess(bench, opts.quick) : await runIsolated(bench, opts.quick);
    if ("error" in outcome) {
      failed++;
      process.stderr.write(`vfio-workbench: benchmark ${bench.name} failed: ${outcome.error}\n`);
      if (opts.json) process.stdout.write(JSON.stringify({ name: bench.name, ratio: null, target: "", ok: false, error: outcome.error.split("\n")[0] }) + "\n");
      else rows.push([bench.name, "-", "", "ERROR", outcome.error.split("\n")[0]!]);
      continue;
    }
    if (opts.json) process.stdout.write(JSON.stringify(outcome.result) + "\n");
    else rows.push(tableRow(outcome.result));
  }
  if (!opts.json) printTable(rows);
  return failed;
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("run the performance benchmarks; each reports project time over a baseline measured in the same run (ratio)")
    .option("--json", 'print one JSON object per line: {"name", "ratio", "target", "ok", ...measurements}')
    .option("--only <names...>", `run only these benchmarks (${BENCHMARK_NAMES.join(", ")})`)
    .option("--quick", "small sizes, to smoke-test the benchmark code (not for published numbers)")
    .option("--in-process", "run benchmarks in this process instead of one child process each (memory figures less clean)")
    .action(async (opts: BenchOpts) => {
      const names = opts.only ?? BENCHMARK_NAMES;
      const unknown = names.filter((n) => !BENCHMARK_NAMES.includes(n));
      if (unknown.length > 0) throw new UsageError(`unknown benchmark ${unknown.join(", ")}; known: ${BENCHMARK_NAMES.join(", ")}`);
      // loaded only now: the benchmarks import most of the package, which --help does not need
      const { benchmarks } = await import("../../bench/index.js");
      const selected = benchmarks.filter((b) => names.includes(b.name));
      const failed = await runBenchmarks(selected, { json: opts.json ?? false, quick: opts.quick ?? false, inProcess: opts.inProcess ?? false });
      if (failed > 0) process.exitCode = 1;
    });
}
