import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cell, Notebook, Output } from "../../kernel-lib/kernel/notebook.js";
import { runNotebook } from "../../kernel-lib/kernel/runner.js";
import { cliMain, fixtures, requireBuild, validateWithNbformat } from "./helpers.js";

// Every run starts a fresh kernel process (a few seconds each), so each fixture runs once.
let outDir: string;

beforeAll(() => {
  requireBuild();
  outDir = mkdtempSync(join(tmpdir(), "vwb-run-"));
});

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

interface CliRun {
  code: number;
  stderr: string;
  notebook: Notebook;
  path: string;
}

function runCli(fixture: string, ...flags: string[]): Promise<CliRun> {
  const path = join(outDir, `${fixture}-${flags.join("").replace(/\W/g, "") || "plain"}.ipynb`);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cliMain, "run", join(fixtures, `${fixture}.ipynb`), "-o", path, ...flags], (err, _stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      try {
        resolve({ code, stderr, notebook: JSON.parse(readFileSync(path, "utf8")) as Notebook, path });
      } catch (readErr) {
        reject(new Error(`run wrote no notebook (exit ${code}): ${stderr}\n${String(readErr)}`));
      }
    });
  });
}

function codeCells(notebook: Notebook): Cell[] {
  return notebook.cells.filter((c) => c.cell_type === "code");
}

function text(value: unknown): string {
  return Array.isArray(value) ? value.join("") : String(value);
}

function summary(output: Output): string {
  switch (output.output_type) {
    case "stream":
      return `${output.name}: ${text(output.text)}`;
    case "execute_result":
    case "display_data":
      return `${output.output_type}: ${text(output.data["text/plain"])}`;
    case "error":
      return `error: ${output.ename}: ${output.evalue}`;
  }
}

describe("vfio-workbench run", () => {
  it("executes a clean notebook and writes a valid nbformat 4.5 notebook with outputs and counts", async () => {
    const run = await runCli("success");
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^cell 1\/3 \(\d+\.\d s\)\ncell 2\/3 \(\d+\.\d s\)\ncell 3\/3 \(\d+\.\d s\)\n$/);
    const nb = run.notebook;
    expect(nb.nbformat).toBe(4);
    expect(nb.nbformat_minor).toBe(5);
    expect(nb.metadata.kernelspec).toEqual({ name: "vfio-workbench", display_name: "TypeScript (vfio-workbench)", language: "typescript" });
    expect(nb.metadata.language_info).toMatchObject({ name: "typescript", file_extension: ".ts" });
    for (const cell of nb.cells) expect(cell.id).toMatch(/^[a-zA-Z0-9-_]{1,64}$/);
    const cells = codeCells(nb);
    expect(cells.map((c) => c.execution_count)).toEqual([1, 2, 3]);
    expect(cells.map((c) => c.outputs!.map(summary))).toEqual([
      ["stdout: computing\n", "execute_result: 42"],
      ["stderr: a warning\n", "execute_result: [ 42, 43 ]"],
      [],
    ]);
    expect(nb.cells[0]).not.toHaveProperty("outputs");
    if (!validateWithNbformat(run.path)) console.log("nbformat (python3-nbformat) not installed: schema validation skipped");
  });

  it("stops at the first failing cell, saves its error and exits non-zero", async () => {
    const run = await runCli("failure");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cell 2\/3 \(.*\) error\n/);
    expect(run.stderr).toMatch(/vfio-workbench: cell 2\/3 \(id [\w-]+\) failed: RangeError: out of range/);
    const cells = codeCells(run.notebook);
    expect(cells.map((c) => c.execution_count)).toEqual([1, 2, null]);
    expect(cells[1]!.outputs!.map(summary)).toEqual(["error: RangeError: out of range"]);
    expect(cells[2]!.outputs).toEqual([]);
  });

  it("keeps going after errors with --allow-errors and exits 0", async () => {
    const run = await runCli("failure", "--allow-errors");
    expect(run.code).toBe(0);
    const cells = codeCells(run.notebook);
    expect(cells.map((c) => c.execution_count)).toEqual([1, 2, 3]);
    expect(cells[1]!.outputs!.map(summary)).toEqual(["error: RangeError: out of range"]);
    expect(cells[2]!.outputs!.map(summary)).toEqual(["stdout: never runs\n"]);
  });

  it("fails a cell tagged raises-exception that does not raise", async () => {
    const run = await runCli("raises-missing");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cell 1\/2 \(id [\w-]+\) is tagged raises-exception but completed without an error/);
    expect(codeCells(run.notebook).map((c) => c.execution_count)).toEqual([1, null]);
  });

  it("interrupts a cell that runs past --timeout and fails the run", async () => {
    const started = performance.now();
    const run = await runCli("slow", "--timeout", "1");
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cell 2\/3 \(.*\) timeout/);
    expect(run.stderr).toMatch(/did not finish within 1 s \(interrupted\)/);
    const cells = codeCells(run.notebook);
    expect(cells[1]!.outputs!.map(summary)).toEqual(["error: KeyboardInterrupt: the cell was interrupted"]);
    expect(cells[2]!.execution_count).toBeNull();
  });

  it("rejects a bad --timeout and a missing notebook with one-line errors", async () => {
    const bad = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [cliMain, "run", join(fixtures, "success.ipynb"), "--timeout", "soon"], (err, _o, stderr) =>
        resolve({ code: typeof err?.code === "number" ? err.code : 0, stderr }),
      ),
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('vfio-workbench: --timeout takes a positive number of seconds, got "soon"');
    const missing = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [cliMain, "run", join(outDir, "nope.ipynb")], (err, _o, stderr) =>
        resolve({ code: typeof err?.code === "number" ? err.code : 0, stderr }),
      ),
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^vfio-workbench: ENOENT/);
  });
});

describe("runNotebook (library)", () => {
  it("accepts the error of a cell tagged raises-exception and goes on", async () => {
    const progress: string[] = [];
    const result = await runNotebook(join(fixtures, "raises.ipynb"), { onProgress: (p) => progress.push(`${p.index}/${p.total} ${p.status}`) });
    expect(result.ok).toBe(true);
    expect(result.failures).toEqual([]);
    expect(result.toleratedErrors).toMatchObject([{ index: 2, kind: "error", message: expect.stringMatching(/^SyntaxError: /) }]);
    expect(progress).toEqual(["1/3 ok", "2/3 error", "3/3 ok"]);
    const cells = codeCells(result.notebook);
    expect(cells[1]!.outputs![0]).toMatchObject({ output_type: "error", ename: "SyntaxError" });
    expect(cells[2]!.outputs!.map(summary)).toEqual(["execute_result: 2"]);
    expect(result.executedCells).toBe(3);
  });

  it("kills a kernel whose cell ignores the interrupt, and reports the timeout", async () => {
    const progress: string[] = [];
    const result = await runNotebook(join(fixtures, "stuck.ipynb"), {
      timeoutSeconds: 1,
      interruptGraceSeconds: 1,
      onProgress: (p) => progress.push(`${p.index}/${p.total} ${p.status}`),
    });
    expect(result.ok).toBe(false);
    expect(result.failures).toMatchObject([{ index: 2, kind: "timeout", message: "did not finish within 1 s and ignored the interrupt" }]);
    expect(progress).toEqual(["1/3 ok", "2/3 timeout"]);
    expect(codeCells(result.notebook).map((c) => c.execution_count)).toEqual([1, null, null]);
  });
});
