/**
 * The notebooks' differential, on the host:
 * - every cell known-differences.json lists still shows, on the emulator, the output listed for
 *   it (so the list cannot go stale unseen between runs of the real-kernel test);
 * - it catches an emulator that drifts from the kernel: one seeded fault in an errno (the
 *   emulated mtty answers RESUMING -> STOP on an incomplete stream with EIO instead of mtty's
 *   EINVAL) makes the comparison of 00-first-migration's executed cells fail, naming the cell
 *   and both outputs. The unbroken run plays the kernel's side, as the guest's would; the fault
 *   goes into a copy of the built package, so the shipped code has no hook for it.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNotebook } from "../../kernel-lib/kernel/notebook.js";
import { dist, repoRoot, requireBuild } from "../kernel/helpers.js";
import type { KnownDifferences } from "./shared/compare.js";
import { cellOutputsText, compareNotebookOutputs, comparisonProblems } from "./host/notebook-differential.js";
import { GUEST_NOTEBOOKS } from "./host/notebooks.js";

const NOTEBOOK = "notebooks/00-first-migration.ipynb";
const known = JSON.parse(readFileSync(new URL("./known-differences.json", import.meta.url), "utf8")) as KnownDifferences;

let root: string;
/** each notebook that known-differences.json lists a cell of, executed on the unbroken emulator */
const clean = new Map<string, Promise<string>>();
beforeAll(() => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), "vwb-nb-differential-"));
  mkdirSync(join(root, "out"));
  for (const notebook of new Set([NOTEBOOK, ...(known.notebookCells ?? []).map((d) => d.notebook)])) {
    const run = execute(repoRoot, notebook, join(root, "out", notebook.replace(/\W+/g, "-")));
    run.catch(() => undefined); // awaited by the tests, which report the failure
    clean.set(notebook, run);
  }
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** `vfio-workbench run NOTEBOOK --allow-errors` in the package at `pkg`, whose cells import that package: the executed notebook. */
function execute(pkg: string, notebook: string, out: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(pkg, "dist", "cli", "main.js"), "run", join(pkg, notebook), "--allow-errors", "-o", out], { cwd: pkg, timeout: 240_000 }, (err, _stdout, stderr) =>
      err && typeof err.code !== "number" ? reject(new Error(`run: ${err.message}\n${stderr}`)) : resolve(readFileSync(out, "utf8")),
    );
  });
}

describe("the notebooks' differential", () => {
  it("lists only cells of the notebooks the guest runs, each still showing on the emulator the output listed for it", async () => {
    for (const entry of known.notebookCells ?? []) {
      expect(GUEST_NOTEBOOKS, entry.notebook).toContain(entry.notebook);
      const cells = parseNotebook(await clean.get(entry.notebook)!, entry.notebook).cells;
      const cell = cells.find((c) => c.id === entry.cell);
      expect(cell, `${entry.notebook} has no cell ${entry.cell}`).toBeDefined();
      expect(cellOutputsText(cell!.outputs), `${entry.notebook} cell ${entry.cell}: the emulator's output changed; update or remove its entry`).toBe(entry.emulated);
    }
  }, 240_000);

  it("fails on one seeded emulator fault in an errno, naming the cell and the two outputs", async () => {
    const faulty = join(root, "faulty");
    cpSync(dist, join(faulty, "dist"), { recursive: true });
    cpSync(join(repoRoot, "package.json"), join(faulty, "package.json"));
    cpSync(join(repoRoot, NOTEBOOK), join(faulty, NOTEBOOK));
    symlinkSync(join(repoRoot, "node_modules"), join(faulty, "node_modules"), "dir");
    const ops = join(faulty, "dist", "hw-emu", "kernel", "drivers", "device-migration.js");
    const text = readFileSync(ops, "utf8");
    if (!text.includes('incomplete: "EINVAL"')) throw new Error(`${ops} no longer maps incomplete to EINVAL: update this test's fault`);
    writeFileSync(ops, text.replace('incomplete: "EINVAL"', 'incomplete: "EIO"'));

    const [kernelSide, emulatorSide] = await Promise.all([clean.get(NOTEBOOK)!, execute(faulty, NOTEBOOK, join(root, "out", "faulty.ipynb"))]);
    const comparison = compareNotebookOutputs(NOTEBOOK, kernelSide, emulatorSide, [], known);

    const unlisted = comparison.cells.filter((c) => c.status === "unexpected");
    expect(unlisted.map((c) => c.cell)).toEqual(["bad-streams"]);
    expect(comparison.cells.filter((c) => c.status === "same").length).toBe(comparison.cells.length - 1);
    const [problem] = comparisonProblems(comparison);
    expect(problem).toMatch(new RegExp(`^${NOTEBOOK}: cell \\d+ \\(id bad-streams\\): outputs differ, and known-differences.json does not list it\\n`));
    // both outputs, in full: the kernel's side shows the table with EINVAL, the faulty emulator's the claim that caught EIO
    expect(problem).toContain(`    native:   ${unlisted[0]!.native.split("\n").join("\n              ")}`);
    expect(problem).toContain(`    emulated: ${unlisted[0]!.emulated.split("\n").join("\n              ")}`);
    expect(unlisted[0]!.native).toMatch(/RESUMING → STOP.*EINVAL/s);
    expect(unlisted[0]!.emulated).toMatch(/ClaimError: claim failed: a truncated stream passes write\(\), then RESUMING → STOP fails with EINVAL.*EIO/s);
  }, 240_000);
});
