/**
 * site-build: `vfio-workbench build` as a user runs it, in a scratch copy of the project
 * (scratchProject(): the notebooks and the lockfile, the package linked in as installed, an empty
 * cache), three times:
 * - cold: every notebook executed;
 * - warm: nothing changed, so nothing is executed (target: under 3 s);
 * - one changed: a markdown cell added to one notebook, so only that one is executed.
 * Each is reported as a ratio to the cold build of the same run.
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { listNotebooks } from "../kernel-lib/kernel/notebook-check.js";
import { packageInfo } from "../kernel-lib/kernel/package-root.js";
import { round3 } from "./timing.js";
import type { Benchmark, BenchResult } from "./types.js";

const WARM_TARGET_S = 3;

interface BuildRun {
  seconds: number;
  executed: string[];
  cached: string[];
}

/** Runs the build command in `project`; the notebooks it executed and took from the cache, from its progress lines. */
function build(project: string): Promise<BuildRun> {
  const cli = join(packageInfo().root, "dist", "cli", "main.js");
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [cli, "build", "--out", join(project, "site")], { cwd: project, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) {
        const lines = stderr.trim().split("\n");
        const why = lines.find((l) => l.startsWith("vfio-workbench: ")) ?? lines.find((l) => /Error/.test(l)) ?? `exit ${code}`;
        return reject(new Error(`site-build: the build failed: ${why}`));
      }
      const lines = stderr.split("\n").map((l) => /^(\S+\.ipynb)\s+(executed|cached)\b/.exec(l)).filter((m) => m !== null);
      resolve({
        seconds,
        executed: lines.filter((m) => m[2] === "executed").map((m) => basename(m[1]!)),
        cached: lines.filter((m) => m[2] === "cached").map((m) => basename(m[1]!)),
      });
    });
  });
}

/** Adds a markdown cell at the end of a notebook: a change to its source, so to its cache key. */
function touchNotebook(path: string): void {
  const notebook = JSON.parse(readFileSync(path, "utf8")) as { cells: unknown[] };
  notebook.cells.push({ cell_type: "markdown", id: "site-build-bench", metadata: {}, source: ["Changed by the site-build benchmark."] });
  writeFileSync(path, JSON.stringify(notebook, null, 1) + "\n");
}

/**
 * A project in a temporary folder that uses this package as an installed one would: the given
 * notebooks, the lockfile, and node_modules holding the package itself and its dependencies
 * (some notebooks import one of those too, e.g. typescript), linked. The caller removes it.
 */
export function scratchProject(notebooks: readonly string[]): string {
  const root = packageInfo().root;
  const project = mkdtempSync(join(tmpdir(), "vfio-workbench-project-"));
  mkdirSync(join(project, "notebooks"));
  for (const path of notebooks) copyFileSync(path, join(project, "notebooks", basename(path)));
  mkdirSync(join(project, "node_modules"));
  symlinkSync(root, join(project, "node_modules", "vfio-workbench"), "dir");
  for (const entry of readdirSync(join(root, "node_modules"))) {
    if (!entry.startsWith(".")) symlinkSync(join(root, "node_modules", entry), join(project, "node_modules", entry), "dir");
  }
  if (existsSync(join(root, "package-lock.json"))) copyFileSync(join(root, "package-lock.json"), join(project, "package-lock.json"));
  return project;
}

export const siteBuild: Benchmark = {
  name: "site-build",
  description: "the docs build cold, warm (target: executes nothing, < 3 s) and after one notebook changed (target: executes only it), each as a ratio to cold",
  async run({ quick }): Promise<BenchResult> {
    const root = packageInfo().root;
    const all = listNotebooks(join(root, "notebooks"));
    const notebooks = quick ? all.slice(0, 2) : all;
    const project = scratchProject(notebooks);
    try {
      const cold = await build(project);
      if (cold.executed.length !== notebooks.length) throw new Error(`site-build: the cold build executed ${cold.executed.length} of ${notebooks.length} notebooks`);
      const warm = await build(project);
      const changed = basename(notebooks[0]!);
      touchNotebook(join(project, "notebooks", changed));
      const one = await build(project);

      const warmOk = warm.executed.length === 0 && warm.seconds < WARM_TARGET_S;
      const oneOk = one.executed.length === 1 && one.executed[0] === changed;
      return {
        name: "site-build",
        ratio: round3(warm.seconds / cold.seconds),
        target: `warm: executes nothing, < ${WARM_TARGET_S} s; one changed: executes only it`,
        ok: warmOk && oneOk,
        notebooks: notebooks.length,
        cold_s: round3(cold.seconds),
        warm_s: round3(warm.seconds),
        warm_executed: warm.executed.length,
        one_changed_s: round3(one.seconds),
        one_changed_ratio: round3(one.seconds / cold.seconds),
        one_changed: changed,
        one_changed_executed: one.executed,
        quick,
      };
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  },
};
