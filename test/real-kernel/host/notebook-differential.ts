/**
 * The notebooks' differential: every code cell that ran both in the guest (native backend, the
 * kernel's mtty) and on the host's emulator must show the same outputs — the paths walked, the
 * errnos, the struct bytes, the flags and whatever else the cell prints — unless
 * known-differences.json lists that cell with exactly the two outputs and a reason. A cell that
 * builds its own emulated machine shows the same outputs on both sides by construction; a cell
 * that reaches the devices through createBackend() differs where the device model shows (mtty is
 * not the emulated NIC), and each such difference needs its reason written down.
 */
import { createHash } from "node:crypto";
import { joinSource, parseNotebook, type Output } from "../../../kernel-lib/kernel/notebook.js";
import type { KnownCellDifference, KnownDifferences } from "../shared/compare.js";

/**
 * A cell's outputs as text, one output a line: a stream as "stdout: …", an error as
 * "Name: message", a display as its text/plain followed by a digest of its other forms (HTML,
 * SVG, the claim record), so that a chart that changes shows as a change. Execution counts are
 * left out: the cells skipped in the guest shift them.
 */
export function cellOutputsText(outputs: readonly Output[] | undefined): string {
  return (outputs ?? [])
    .map((o) => {
      if (o.output_type === "stream") return `${o.name}: ${joinSource(o.text).replace(/\n$/, "")}`;
      if (o.output_type === "error") return `${o.ename}: ${o.evalue}`;
      const plain = o.data["text/plain"] as string | string[] | undefined;
      const others = Object.keys(o.data).filter((m) => m !== "text/plain").sort();
      const digest = others.length
        ? ` [${others.join(", ")} ${createHash("sha256").update(JSON.stringify(others.map((m) => o.data[m]))).digest("hex").slice(0, 12)}]`
        : "";
      return `${plain === undefined ? "(no text/plain)" : joinSource(plain)}${digest}`;
    })
    .join("\n");
}

export type CellComparisonStatus = "same" | "known" | "unexpected";

export interface CellComparison {
  notebook: string;
  /** 1-based among the code cells */
  index: number;
  cell: string;
  status: CellComparisonStatus;
  native: string;
  emulated: string;
  reason?: string;
}

export interface NotebookComparison {
  notebook: string;
  /** the cells run on both sides */
  cells: CellComparison[];
  /** listed differences of this notebook that this run did not show */
  stale: KnownCellDifference[];
  /** cells the two files do not both have */
  structural: string[];
}

const codeCells = (file: string, side: string) => parseNotebook(file, side).cells.filter((c) => c.cell_type === "code");

/**
 * Compares the guest's executed notebook with the emulator's, cell by cell (matched by id),
 * leaving out the cells skipped in the guest.
 */
export function compareNotebookOutputs(notebook: string, nativeFile: string, emulatedFile: string, skippedIds: readonly string[], known: KnownDifferences): NotebookComparison {
  const listed = new Map((known.notebookCells ?? []).filter((d) => d.notebook === notebook).map((d) => [d.cell, d]));
  const emulated = new Map(codeCells(emulatedFile, `${notebook} (the emulator's run)`).map((c) => [c.id ?? "", c]));
  const skipped = new Set(skippedIds);
  const used = new Set<string>();
  const structural: string[] = [];
  const cells: CellComparison[] = [];
  codeCells(nativeFile, `${notebook} (the guest's run)`).forEach((cell, i) => {
    const id = cell.id ?? "";
    if (skipped.has(id)) return;
    const other = emulated.get(id);
    if (!other) {
      structural.push(`${notebook}: cell ${i + 1} (id ${id}) ran in the guest but is not in the emulator's run`);
      return;
    }
    const native = cellOutputsText(cell.outputs);
    const emu = cellOutputsText(other.outputs);
    const base = { notebook, index: i + 1, cell: id, native, emulated: emu };
    if (native === emu) {
      cells.push({ ...base, status: "same" });
      return;
    }
    const entry = listed.get(id);
    if (entry && entry.native === native && entry.emulated === emu) {
      used.add(id);
      cells.push({ ...base, status: "known", reason: entry.reason });
    } else {
      cells.push({ ...base, status: "unexpected" });
    }
  });
  const stale = [...listed.values()].filter((d) => !used.has(d.cell));
  return { notebook, cells, stale, structural };
}

/** ", 6 cells compared with the emulator's: 2 differences (2 listed)" — the tail of a notebook's line. */
export function comparisonText(c: NotebookComparison): string {
  const known = c.cells.filter((x) => x.status === "known").length;
  const unexpected = c.cells.filter((x) => x.status === "unexpected").length;
  const compared = `${c.cells.length} cells compared with the emulator's`;
  if (known + unexpected === 0) return `, ${compared}: no difference`;
  const parts = [known ? `${known} listed` : "", unexpected ? `${unexpected} not listed` : ""].filter(Boolean);
  return `, ${compared}: ${known + unexpected} difference${known + unexpected === 1 ? "" : "s"} (${parts.join(", ")})`;
}

const indent = (text: string) => text.split("\n").join("\n              ");

/** What fails the run: each unlisted difference, naming the notebook, the cell and both outputs. */
export function comparisonProblems(c: NotebookComparison): string[] {
  return [
    ...c.cells
      .filter((x) => x.status === "unexpected")
      .map((x) => `${x.notebook}: cell ${x.index} (id ${x.cell}): outputs differ, and known-differences.json does not list it\n    native:   ${indent(x.native)}\n    emulated: ${indent(x.emulated)}`),
    ...c.structural,
  ];
}

/** Entries for known-differences.json, to fill in with a reason (or to fix the emulator instead). */
export function draftEntries(c: NotebookComparison): KnownCellDifference[] {
  return c.cells.filter((x) => x.status === "unexpected").map((x) => ({ notebook: x.notebook, cell: x.cell, native: x.native, emulated: x.emulated, reason: "" }));
}
