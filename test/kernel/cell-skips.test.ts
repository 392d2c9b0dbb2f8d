/**
 * The skip rules of the native backend, on the emulator: an emulator-only cell never runs there,
 * a hazard tag runs only when allowed, a cell that does not need a skipped one still runs, and a
 * cell that uses what a skipped one declared is skipped with the name it misses.
 */
import { describe, expect, it } from "vitest";
import { CellDependencies, cellNames, tagSkip } from "../../kernel-lib/kernel/cell-skips.js";
import { runNotebookContent } from "../../kernel-lib/kernel/runner.js";
import type { Notebook } from "../../kernel-lib/kernel/notebook.js";
import { requireBuild } from "./helpers.js";
import { runCli } from "../cli/run-cli.js";

describe("the names a cell declares and reads", () => {
  it("finds top-level declarations of every kind, and reads that are not property names", () => {
    const { declares, uses } = cellNames(`
      import { a, b as c } from "x";
      import * as ns from "y";
      const { d, e: [f] } = g;
      let h = 1, i;
      function j() { return k.l; }
      class M {}
      type N = { o: number };
      const p = { q: r, s };`);
    expect([...declares].sort()).toEqual(["M", "N", "a", "c", "d", "f", "h", "i", "j", "ns", "p"].sort());
    for (const name of ["g", "k", "r", "s"]) expect(uses.has(name), name).toBe(true);
    for (const name of ["l", "o", "q"]) expect(uses.has(name), name).toBe(false);
  });

  it("follows a skipped cell's names until a later cell declares them again", () => {
    const deps = new CellDependencies();
    deps.record("const host = makeHost(); const other = 1;", 1, true);
    expect(deps.dependencySkip("other + 1")?.reason).toBe("skipped: this cell uses `other`, which cell 1 declares, and cell 1 was skipped");
    expect(deps.dependencySkip("const unrelated = 2; unrelated")).toBeNull();
    deps.record("const other = 5;", 2, false);
    expect(deps.dependencySkip("other + 1")).toBeNull();
    expect(deps.dependencySkip("host.sys")).not.toBeNull();
  });
});

describe("which tags keep a cell off the native backend", () => {
  it("skips emulator-only always, a hazard tag unless allowed, and nothing on the emulator", () => {
    expect(tagSkip(["emulator-only"], "native")?.cause).toBe("emulator-only");
    expect(tagSkip(["emulator-only"], "native", ["emulator-only"])?.cause).toBe("emulator-only");
    expect(tagSkip(["needs-blocked-arc-fix"], "native")?.reason).toMatch(/--allow needs-blocked-arc-fix/);
    expect(tagSkip(["needs-blocked-arc-fix"], "native", ["needs-blocked-arc-fix"])).toBeNull();
    expect(tagSkip(["emulator-only", "needs-blocked-arc-fix"], "emu")).toBeNull();
    expect(tagSkip(["hide-input"], "native")).toBeNull();
  });
});

function notebook(cells: { source: string; tags?: string[] }[]): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: cells.map((c, i) => ({ id: `c${i + 1}`, cell_type: "code", metadata: c.tags ? { tags: c.tags } : {}, source: c.source, outputs: [], execution_count: null })),
  };
}

const CELLS = [
  { source: "const backend = process.env.VFIO_WORKBENCH_BACKEND; backend" },
  { source: 'const labOnly = 41; throw new Error("an emulator-only cell ran")', tags: ["emulator-only"] },
  { source: "const independent = 2; independent" },
  { source: "labOnly + 1" },
  { source: 'const probed = "blocked arc asked for"; probed', tags: ["needs-blocked-arc-fix"] },
  { source: "backend + independent" },
];

const text = (output: unknown) => {
  const data = (output as { data?: Record<string, string[] | string> }).data ?? {};
  const plain = data["text/plain"] ?? "";
  return Array.isArray(plain) ? plain.join("") : plain;
};

describe("a notebook run on the native backend (on the emulator's machine)", () => {
  it("skips the emulator-only cell, the hazard and what depends on them, runs the rest, and says why in each skipped cell's place", async () => {
    requireBuild();
    const result = await runNotebookContent(notebook(CELLS), { backend: "native", timeoutSeconds: 60 });
    expect(result.failures).toEqual([]);
    expect(result.skippedCells.map((s) => [s.index, s.cause])).toEqual([
      [2, "emulator-only"],
      [4, "dependency"],
      [5, "needs-blocked-arc-fix"],
    ]);
    expect(result.executedCells).toBe(3);
    const outputs = result.notebook.cells.map((c) => c.outputs ?? []);
    expect(text(outputs[0]![0])).toBe("'native'");
    expect(text(outputs[1]![0])).toMatch(/^⤼ skipped on the native backend \(emulator-only\): this cell uses what only the emulator has/);
    expect(text(outputs[2]![0])).toBe("2");
    expect(text(outputs[3]![0])).toBe("⤼ skipped: this cell uses `labOnly`, which cell 2 declares, and cell 2 was skipped");
    expect(text(outputs[4]![0])).toMatch(/needs-blocked-arc-fix/);
    expect(text(outputs[5]![0])).toBe("'native2'");
  }, 60_000);

  it("runs a hazard-tagged cell when it is allowed, and every cell on the emulator", async () => {
    requireBuild();
    const allowed = await runNotebookContent(notebook(CELLS.filter((c) => !c.tags?.includes("emulator-only") && !c.source.includes("labOnly"))), {
      backend: "native",
      allowTags: ["needs-blocked-arc-fix"],
      timeoutSeconds: 60,
    });
    expect(allowed.skippedCells).toEqual([]);
    expect(allowed.failures).toEqual([]);
    const emu = await runNotebookContent(notebook(CELLS), { timeoutSeconds: 60 });
    expect(emu.skippedCells).toEqual([]);
    // on the emulator the emulator-only cell runs, and here it throws on purpose
    expect(emu.failures.map((f) => [f.index, f.message])).toEqual([[2, "Error: an emulator-only cell ran"]]);
  }, 60_000);
});

describe("check's backend flags", () => {
  it("answers a bad --backend or --allow with one line and exit 2", () => {
    const bad = runCli(["check", "--backend", "kvm", "notebooks/00-first-migration.ipynb"]);
    expect([bad.status, bad.stderr.trim()]).toEqual([2, 'vfio-workbench: --backend takes emu or native, got "kvm"']);
    const tag = runCli(["check", "--backend", "native", "--allow", "emulator-only", "notebooks/00-first-migration.ipynb"]);
    expect([tag.status, tag.stderr.trim()]).toEqual([2, 'vfio-workbench: --allow takes a hazard tag (needs-blocked-arc-fix), got "emulator-only"']);
    const emu = runCli(["check", "--allow", "needs-blocked-arc-fix", "notebooks/00-first-migration.ipynb"]);
    expect([emu.status, emu.stderr.trim()]).toEqual([2, "vfio-workbench: --allow applies to --backend native only: the emulator runs every cell"]);
  });
});
