import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../kernel/helpers.js";
import { compareRuns, summarize, validateKnownDifferences, type KnownDifferences } from "./shared/compare.js";
import { runDifferential, type DiffRecord } from "./shared/differential.js";
import { formatRecord, formatSentinel, notebookRecords, parseGuestOutput, type GuestRecord, type NotebookPart } from "./shared/protocol.js";
import { emulatedDiffTarget } from "./host/emulated.js";
import { knownDifferencesPage } from "./host/markdown.js";
import { importClosure, importsOf, neverLoaded, packageName } from "./host/pack-initramfs.js";
import { GUEST_NOTEBOOKS, notebookReports, selectGuestNotebooks } from "./host/notebooks.js";
import { cellOutputsText, compareNotebookOutputs, comparisonProblems, comparisonText } from "./host/notebook-differential.js";

const known = JSON.parse(readFileSync(new URL("./known-differences.json", import.meta.url), "utf8")) as KnownDifferences;

describe("the differential script on the emulator", () => {
  const run = runDifferential(emulatedDiffTarget());

  it("is deterministic, and every step has its own name", () => {
    expect(runDifferential(emulatedDiffTarget())).toEqual(run);
    expect(new Set(run.map((r) => r.step)).size).toBe(run.length);
    expect(run.length).toBeGreaterThan(200);
    expect(run.every((r, i) => r.i === i)).toBe(true);
  });

  it("covers both paths: groups with a container, and the cdev with iommufd", () => {
    const steps = run.map((r) => r.step);
    for (const s of ["container.set_iommu TYPE1v2", "group.get_device_fd", "device.state set PRE_COPY", "device B.resume write 0", "cdev.bind", "cdev.attach"]) expect(steps).toContain(s);
  });

  it("known-differences.json is well formed, and each entry still describes what the emulator answers", () => {
    expect(validateKnownDifferences(known)).toEqual([]);
    const byStep = new Map(run.map((r) => [r.step, r]));
    for (const d of known.differences) {
      expect(byStep.has(d.step), `"${d.step}" is not a step of the script`).toBe(true);
      expect(summarize(byStep.get(d.step)), `the emulator's answer to "${d.step}" changed: update or remove its entry`).toBe(d.emulated);
    }
  });
});

const rec = (i: number, step: string, result: string, out?: DiffRecord["out"]): DiffRecord => ({ i, step, result, ...(out ? { out } : {}) });

describe("comparing runs", () => {
  const real = [rec(0, "a", "= 0"), rec(1, "b", "EINVAL"), rec(2, "c", "= 4", { bytes: "00112233" }), rec(3, "d", "= 1")];
  const emu = [rec(0, "a", "= 0"), rec(1, "b", "EBADF"), rec(2, "c", "= 4", { bytes: "00ff2233" }), rec(3, "d", "= 2")];
  const list: KnownDifferences = {
    differences: [
      { step: "b", real: "EINVAL", emulated: "EBADF", reason: "a reason long enough" },
      { step: "c", real: summarize(real[2]), emulated: "= 4 {\"bytes\":\"00000000\"}", reason: "listed with an older emulated answer" },
      { step: "z", real: "= 0", emulated: "= 1", reason: "a step that no longer differs" },
    ],
  };
  const result = compareRuns(real, emu, list);

  it("is known only when the step and both answers match the list exactly", () => {
    expect(result.comparisons.map((c) => c.status)).toEqual(["same", "known", "unexpected", "unexpected"]);
    expect(result.comparisons[1]!.reason).toBe("a reason long enough");
    expect(result.stale.map((d) => d.step)).toEqual(["c", "z"]);
    expect(result.structural).toEqual([]);
  });

  it("names the differing fields, and the runs of differing bytes", () => {
    expect(result.comparisons[1]!.fields).toEqual([{ field: "result", real: "EINVAL", emulated: "EBADF" }]);
    expect(result.comparisons[2]!.fields).toEqual([{ field: "bytes", real: "@0x1: 11 (4 bytes)", emulated: "@0x1: ff (4 bytes)" }]);
  });

  it("reports runs that do not line up", () => {
    const r = compareRuns([rec(0, "a", "= 0")], [rec(0, "x", "= 0"), rec(1, "y", "= 0")], { differences: [] });
    expect(r.structural).toHaveLength(2);
    expect(r.comparisons[1]!.real).toBe("(no call)");
  });

  it("rejects a list with duplicates, missing reasons or no difference", () => {
    const bad: KnownDifferences = {
      differences: [
        { step: "a", real: "= 0", emulated: "= 1", reason: "" },
        { step: "a", real: "= 0", emulated: "= 0", reason: "a reason long enough" },
      ],
    };
    expect(validateKnownDifferences(bad)).toHaveLength(3);
  });

  it("renders the page: listed differences with reasons, unlisted ones under their own heading", () => {
    const page = knownDifferencesPage(result, { kernel: "6.12.117" });
    expect(page).toContain("Linux 6.12.117");
    expect(page).toContain("1 of 4 calls give identical results");
    expect(page).toMatch(/\| 1 \| `b` \| `EINVAL` \| `EBADF` \| a reason long enough \|/);
    expect(page).toContain("## Differences without a listed reason");
    expect(page).toMatch(/\| 3 \| `d` \| `= 1` \| `= 2` \|/);
  });
});

describe("the results channel", () => {
  it("parses records and the sentinel, tolerating CR LF and noise, and keeps damaged lines", () => {
    const text = [
      "noise from the kernel",
      formatRecord({ t: "test", section: "edu", name: "x", ok: true, detail: "" }) + "\r",
      "VWB {not json",
      formatSentinel({ kernel: "6.12.117", sections: { edu: { passed: 1, failed: 0, skipped: 0 }, conformance: { passed: 0, failed: 0, skipped: 0 }, differential: { passed: 0, failed: 0, skipped: 0 }, notebooks: { passed: 0, failed: 0, skipped: 0 } } }) + "\r",
    ].join("\n");
    const p = parseGuestOutput(text);
    expect(p.records).toHaveLength(1);
    expect(p.summary?.kernel).toBe("6.12.117");
    expect(p.damaged).toEqual(["VWB {not json"]);
  });

  it("has no sentinel when the guest did not finish", () => {
    expect(parseGuestOutput("Kernel panic - not syncing\n").summary).toBeNull();
  });
});

describe("packing the guest's JavaScript", () => {
  it("finds static and literal dynamic imports", () => {
    const src = `import { a } from "./a.js";\nexport { b } from '../b.js';\nimport "side";\nconst m = await import("./lazy.js");\nimport * as ns from "@scope/pkg/sub";`;
    expect(importsOf(src).sort()).toEqual(["../b.js", "./a.js", "./lazy.js", "@scope/pkg/sub", "side"]);
    expect(packageName("@scope/pkg/sub")).toBe("@scope/pkg");
    expect(packageName("pkg/sub")).toBe("pkg");
  });

  it("follows relative imports from the entry and collects bare packages", () => {
    const dir = mkdtempSync(join(tmpdir(), "closure-"));
    try {
      mkdirSync(join(dir, "x", "y"), { recursive: true });
      writeFileSync(join(dir, "x", "main.js"), `import { f } from "./y/f.js";\nimport { readFileSync } from "node:fs";`);
      writeFileSync(join(dir, "x", "y", "f.js"), `export { g } from "../g.js";\nimport c from "commander";`);
      writeFileSync(join(dir, "x", "g.js"), `export const g = 1;`);
      writeFileSync(join(dir, "x", "unused.js"), `export const u = 1;`);
      const c = importClosure("x/main.js", (rel) => join(dir, rel));
      expect(c.files).toEqual(["x/g.js", "x/main.js", "x/y/f.js"]);
      expect(c.packages).toEqual(["commander"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the notebooks the guest executes", () => {
  const NB = "notebooks/03-irq-restore.ipynb";
  // big enough to take several slices even gzipped: 400 cells of seeded noise
  let seed = 1;
  const noise = () => Array.from({ length: 64 }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24).toString(16)).join("");
  const file = JSON.stringify({ cells: Array.from({ length: 400 }, (_, i) => ({ id: `c${i}`, outputs: [noise(), noise()] })) });
  const summary = {
    path: NB,
    codeCells: 14,
    executedCells: 9,
    skipped: [
      { index: 3, cellId: "lab-1", cause: "emulator-only", message: "skipped on the native backend (emulator-only): ..." },
      { index: 4, cellId: "uses-lab", cause: "dependency", message: "skipped: this cell uses `x`, which cell 3 declares, and cell 3 was skipped" },
      { index: 9, cellId: "lab-2", cause: "emulator-only", message: "skipped on the native backend (emulator-only): ..." },
      { index: 10, cellId: "lab-3", cause: "emulator-only", message: "skipped on the native backend (emulator-only): ..." },
      { index: 12, cellId: "uses-lab-2", cause: "dependency", message: "skipped: ..." },
    ],
    failures: [],
    invalid: [],
    seconds: 41.25,
  };
  const viaChannel = (records: GuestRecord[]) => parseGuestOutput(records.map((r) => formatRecord(r) + "\r").join("\n")).records;

  it("come back whole over the results channel, in slices, and make one line each", () => {
    const records = notebookRecords(summary, file);
    expect(records.length).toBeGreaterThan(2);
    const [report] = notebookReports(viaChannel(records), [NB]);
    expect(report!.problems).toEqual([]);
    expect(report!.file).toBe(file);
    expect(report!.line).toBe(`${NB}: 9 cells run, 5 skipped (emulator-only 3, dependency 2), 0 failed (41.3 s in the guest)`);
  });

  it("fail the run on a failing cell, naming the notebook, the cell and the error", () => {
    const withFailure = { ...summary, failures: [{ index: 7, cellId: "restore", cause: "error", message: "ClaimError: the vector fires once" }] };
    const [report] = notebookReports(viaChannel(notebookRecords(withFailure, file)), [NB]);
    expect(report!.line).toContain("1 failed");
    expect(report!.problems).toEqual([`${NB}: cell 7/14 (id restore): ClaimError: the vector fires once`]);
    const timedOut = { ...withFailure, failures: [{ index: 7, cellId: "restore", cause: "timeout", message: "did not finish within 600 s (interrupted)" }] };
    expect(notebookReports(viaChannel(notebookRecords(timedOut, file)), [NB])[0]!.problems).toEqual([`${NB}: cell 7/14 (id restore): timeout: did not finish within 600 s (interrupted)`]);
  });

  it("fail the run when a notebook is missing, a slice is lost, or the cells do not add up", () => {
    const records = notebookRecords(summary, file);
    const lost = records.filter((r) => !(r.t === "ipynb" && (r as NotebookPart).part === 1));
    const [damaged, missing] = notebookReports(viaChannel(lost), [NB, "notebooks/00-first-migration.ipynb"]);
    expect(damaged!.file).toBeNull();
    expect(damaged!.problems.join("\n")).toMatch(/did not come back: .*slice/);
    expect(missing!.problems).toEqual(["notebooks/00-first-migration.ipynb: the guest sent no record of it"]);
    const short = notebookReports(viaChannel(notebookRecords({ ...summary, executedCells: 7 }, file)), [NB])[0]!;
    expect(short.problems).toEqual([`${NB}: 14 code cells, but 7 ran and 5 were skipped`]);
    const extra = notebookReports(viaChannel(records), [])[0]!;
    expect(extra.problems).toEqual([`${NB}: the guest sent a notebook the host did not ask for`]);
  });

  it("are chosen by REAL_KERNEL_NOTEBOOKS: by default those that reach the guest's devices through createBackend(), or all, or none", () => {
    const read = (path: string) => readFileSync(join(repoRoot, path), "utf8");
    const devices = selectGuestNotebooks(undefined, read);
    expect(devices).toEqual(["notebooks/00-first-migration.ipynb", "notebooks/07-conformance.ipynb"]);
    expect(selectGuestNotebooks("devices", read)).toEqual(devices);
    expect(selectGuestNotebooks("all", read)).toEqual(GUEST_NOTEBOOKS);
    expect(selectGuestNotebooks("none", read)).toEqual([]);
    expect(() => selectGuestNotebooks("1", read)).toThrow('REAL_KERNEL_NOTEBOOKS must be devices, all, none or unset (devices), not "1"');
  });

  it("the initramfs leaves out only what the guest never loads", () => {
    for (const kept of ["zeromq/build/linux/x64/node/glibc-115-Release/addon.node", "zeromq/lib/index.js", "typescript/lib/typescript.js", "typescript/lib/lib.es2022.d.ts", "@tslab/typescript-for-tslab/lib/typescript.js", "tslab/dist/converter.js"]) {
      expect(neverLoaded(kept), kept).toBe(false);
    }
    for (const dropped of ["zeromq/build/darwin/x64/node/115/addon.node", "zeromq/build/linux/arm64/node/115/addon.node", "typescript/lib/tsserver.js", "typescript/lib/_tsc.js", "@tslab/typescript-for-tslab/lib/tsserverlibrary.js", "typescript/lib/ja/diagnosticMessages.generated.json", "zeromq/lib/index.js.map"]) {
      expect(neverLoaded(dropped), dropped).toBe(true);
    }
  });
});

describe("the guest's outputs against the emulator's", () => {
  const NB = "notebooks/07-conformance.ipynb";
  const cell = (id: string, outputs: unknown[]) => ({ cell_type: "code", id, source: "", metadata: {}, outputs });
  const notebook = (cells: unknown[]) => JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells });
  const result = (n: number, text: string, extra: Record<string, unknown> = {}) => ({ output_type: "execute_result", execution_count: n, data: { "text/plain": text, ...extra }, metadata: {} });
  const prose = { cell_type: "markdown", id: "m", source: "", metadata: {} };
  const emulated = notebook([prose, cell("a", [result(1, "x")]), cell("lab", [result(2, "lab")]), cell("b", [result(3, "y", { "image/svg+xml": "<svg>1</svg>" })]), cell("dev", [result(4, "NIC: 47 passed")])]);
  const guest = notebook([prose, cell("a", [result(1, "x")]), cell("lab", [{ output_type: "display_data", data: { "text/plain": "skipped" }, metadata: {} }]), cell("b", [result(2, "y", { "image/svg+xml": "<svg>1</svg>" })]), cell("dev", [result(3, "mtty: 47 passed")])]);
  const listed = { native: "mtty: 47 passed", emulated: "NIC: 47 passed", reason: "the device is mtty in the guest and an emulated NIC on the host" };

  it("renders a cell's outputs as text: streams, errors, and displays with a digest of their other forms", () => {
    const svg = (markup: string) => cellOutputsText([{ output_type: "display_data", data: { "text/plain": "chart", "image/svg+xml": markup }, metadata: {} }]);
    expect(cellOutputsText([{ output_type: "stream", name: "stdout", text: ["a\n", "b\n"] }, { output_type: "error", ename: "ClaimError", evalue: "claim failed: x", traceback: [] }])).toBe("stdout: a\nb\nClaimError: claim failed: x");
    expect(svg("<svg>1</svg>")).toMatch(/^chart \[image\/svg\+xml [0-9a-f]{12}\]$/);
    expect(svg("<svg>2</svg>")).not.toBe(svg("<svg>1</svg>"));
  });

  it("compares the cells run on both sides, by id, leaving out the skipped ones and the execution counts they shift", () => {
    const c = compareNotebookOutputs(NB, guest, emulated, ["lab"], { differences: [] });
    expect(c.cells.map((x) => [x.cell, x.status])).toEqual([["a", "same"], ["b", "same"], ["dev", "unexpected"]]);
    expect(comparisonText(c)).toBe(", 3 cells compared with the emulator's: 1 difference (1 not listed)");
    expect(comparisonProblems(c)).toEqual([`${NB}: cell 4 (id dev): outputs differ, and known-differences.json does not list it\n    native:   mtty: 47 passed\n    emulated: NIC: 47 passed`]);
  });

  it("accepts a difference only when known-differences.json lists that cell with exactly both outputs", () => {
    const ok = compareNotebookOutputs(NB, guest, emulated, ["lab"], { differences: [], notebookCells: [{ notebook: NB, cell: "dev", ...listed }] });
    expect(ok.cells.find((x) => x.cell === "dev")).toMatchObject({ status: "known", reason: listed.reason });
    expect(comparisonProblems(ok)).toEqual([]);
    expect(comparisonText(ok)).toBe(", 3 cells compared with the emulator's: 1 difference (1 listed)");
    const changed = compareNotebookOutputs(NB, guest, emulated, ["lab"], { differences: [], notebookCells: [{ notebook: NB, cell: "dev", ...listed, native: "mtty: 46 passed" }] });
    expect(changed.cells.find((x) => x.cell === "dev")!.status).toBe("unexpected");
    expect(changed.stale.map((d) => d.cell)).toEqual(["dev"]);
    const otherNotebook = compareNotebookOutputs(NB, guest, emulated, ["lab"], { differences: [], notebookCells: [{ notebook: "notebooks/00-first-migration.ipynb", cell: "dev", ...listed }] });
    expect(otherNotebook.cells.find((x) => x.cell === "dev")!.status).toBe("unexpected");
    expect(validateKnownDifferences({ differences: [], notebookCells: [{ notebook: NB, cell: "dev", ...listed }, { notebook: NB, cell: "dev", ...listed, reason: "" }] })).toEqual([`${NB} cell dev is listed twice`, `${NB} cell dev has no reason`]);
  });

  it("puts the compared cells on the known-differences page: listed ones with their reason, unlisted ones under their own heading", () => {
    const ok = compareNotebookOutputs(NB, guest, emulated, ["lab"], { differences: [], notebookCells: [{ notebook: NB, cell: "dev", ...listed }] });
    const page = knownDifferencesPage(compareRuns([], [], { differences: [] }), { kernel: "6.12.118", notebooks: [ok] });
    expect(page).toContain("## Notebook cells");
    expect(page).toContain("2 of 3 cells show identical outputs");
    expect(page).toContain(["### `07-conformance.ipynb`, cell 4 (`dev`)", "", listed.reason, "", "Linux (mtty):", "", "```text", "mtty: 47 passed", "```", "", "Emulator:", "", "```text", "NIC: 47 passed", "```"].join("\n"));
    // an output with a fence of its own gets a longer one
    const fencedOutput = compareNotebookOutputs(NB, guest.replace("mtty: 47 passed", "a ``` b"), emulated, ["lab"], { differences: [] });
    expect(knownDifferencesPage(compareRuns([], [], { differences: [] }), { kernel: "6.12.118", notebooks: [fencedOutput] })).toContain(["````text", "a ``` b", "````"].join("\n"));
    const bad = compareNotebookOutputs(NB, guest, emulated, ["lab"], { differences: [] });
    expect(knownDifferencesPage(compareRuns([], [], { differences: [] }), { kernel: "6.12.118", notebooks: [bad] })).toContain("## Notebook cells without a listed reason");
    expect(knownDifferencesPage(compareRuns([], [], { differences: [] }), { kernel: "6.12.118" })).not.toContain("Notebook cells");
  });

  it("fails on a cell that ran in the guest but is missing from the emulator's run", () => {
    const c = compareNotebookOutputs(NB, guest, notebook([]), ["lab"], { differences: [] });
    expect(comparisonProblems(c)).toEqual([`${NB}: cell 1 (id a) ran in the guest but is not in the emulator's run`, `${NB}: cell 3 (id b) ran in the guest but is not in the emulator's run`, `${NB}: cell 4 (id dev) ran in the guest but is not in the emulator's run`]);
  });
});
