import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ensureCellIds,
  joinSource,
  OutputCollector,
  parseNotebook,
  serializeNotebook,
  splitLines,
  type DisplayDataOutput,
  type Notebook,
} from "../../kernel-lib/kernel/notebook.js";

function notebook(sources: string[]): Notebook {
  return { nbformat: 4, nbformat_minor: 4, metadata: {}, cells: sources.map((source) => ({ cell_type: "code", source, metadata: {} })) };
}

describe("notebook files", () => {
  it("splits multi-line strings the way Jupyter stores them, losslessly", () => {
    expect(splitLines("a\nb\n")).toEqual(["a\n", "b\n"]);
    expect(splitLines("a\nb")).toEqual(["a\n", "b"]);
    expect(splitLines("")).toEqual([]);
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(joinSource(splitLines(s))).toBe(s);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it("gives every cell a unique, valid id, the same on every run", () => {
    const a = notebook(["x", "x", "y"]);
    const b = notebook(["x", "x", "y"]);
    a.cells[1]!.id = "keep-me";
    b.cells[1]!.id = "keep-me";
    ensureCellIds(a);
    ensureCellIds(b);
    const ids = a.cells.map((c) => c.id);
    expect(new Set(ids).size).toBe(3);
    expect(ids[1]).toBe("keep-me");
    for (const id of ids) expect(id).toMatch(/^[a-zA-Z0-9-_]{1,64}$/);
    expect(b.cells.map((c) => c.id)).toEqual(ids);
    expect(a.nbformat_minor).toBe(5);
  });

  it("rejects files that are not nbformat 4 notebooks", () => {
    expect(() => parseNotebook("{", "x.ipynb")).toThrow(/invalid JSON/);
    expect(() => parseNotebook(JSON.stringify({ nbformat: 3, cells: [] }), "x.ipynb")).toThrow(/nbformat 3/);
    expect(() => parseNotebook(JSON.stringify({ nbformat: 4, cells: [{ cell_type: "code" }] }), "x.ipynb")).toThrow(/source/);
  });

  it("writes sorted keys, split lines and empty outputs for code cells", () => {
    const nb = notebook(["a = 1\nb = 2"]);
    nb.cells.push({ cell_type: "markdown", source: "# T", metadata: {} });
    ensureCellIds(nb);
    const written = JSON.parse(serializeNotebook(nb));
    expect(Object.keys(written)).toEqual(["cells", "metadata", "nbformat", "nbformat_minor"]);
    expect(written.cells[0]).toMatchObject({ source: ["a = 1\n", "b = 2"], outputs: [], execution_count: null });
    expect(written.cells[1]).not.toHaveProperty("outputs");
  });
});

describe("outputs from iopub messages", () => {
  it("merges consecutive stream text and keeps results and errors in order", () => {
    const collector = new OutputCollector(new Map());
    collector.add("stream", { name: "stdout", text: "a" });
    collector.add("stream", { name: "stdout", text: "b\n" });
    collector.add("stream", { name: "stderr", text: "warn\n" });
    collector.add("execute_result", { execution_count: 3, data: { "text/plain": "2" }, metadata: {} });
    collector.add("error", { ename: "TypeError", evalue: "x", traceback: ["TypeError: x"] });
    collector.add("status", { execution_state: "idle" });
    expect(collector.outputs).toEqual([
      { output_type: "stream", name: "stdout", text: "ab\n" },
      { output_type: "stream", name: "stderr", text: "warn\n" },
      { output_type: "execute_result", execution_count: 3, data: { "text/plain": "2" }, metadata: {} },
      { output_type: "error", ename: "TypeError", evalue: "x", traceback: ["TypeError: x"] },
    ]);
  });

  it("updates a display wherever it was shown, across cells", () => {
    const displays = new Map<string, DisplayDataOutput[]>();
    const first = new OutputCollector(displays);
    first.add("display_data", { data: { "text/plain": "v1", "text/html": "<b>v1</b>" }, metadata: {}, transient: { display_id: "d" } });
    const second = new OutputCollector(displays);
    second.add("update_display_data", { data: { "text/plain": "v2" }, metadata: { m: 1 }, transient: { display_id: "d" } });
    expect(first.outputs).toEqual([{ output_type: "display_data", data: { "text/plain": "v2" }, metadata: { m: 1 } }]);
    expect(second.outputs).toEqual([]);
  });

  it("honours clear_output, immediately or on the next output", () => {
    const collector = new OutputCollector(new Map());
    collector.add("stream", { name: "stdout", text: "old" });
    collector.add("clear_output", { wait: true });
    expect(collector.outputs).toHaveLength(1);
    collector.add("stream", { name: "stdout", text: "new" });
    expect(collector.outputs).toEqual([{ output_type: "stream", name: "stdout", text: "new" }]);
    collector.add("clear_output", { wait: false });
    expect(collector.outputs).toEqual([]);
  });
});
