import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Notebook } from "../../kernel-lib/kernel/notebook.js";
import { cliMain, fixtures, requireBuild } from "./helpers.js";

// A real Jupyter client (Debian's nbconvert/nbclient) driving the kernel through its kernelspec.
// CI installs: jupyter-nbconvert python3-nbclient python3-jupyter-client jupyter-client
const JUPYTER = "/usr/bin/jupyter";
const haveJupyter = existsSync(JUPYTER);
if (!haveJupyter) console.log(`skipping the nbconvert tests: ${JUPYTER} is not installed (apt-get install jupyter-nbconvert python3-nbclient python3-jupyter-client jupyter-client)`);

let dir: string;

beforeAll(() => {
  if (!haveJupyter) return;
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), "vwb-nbconvert-"));
  execFileSync(process.execPath, [cliMain, "kernel", "install", "--prefix", join(dir, "prefix")]);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function nbconvert(output: string, ...flags: string[]): Promise<{ code: number; stderr: string }> {
  const args = ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=vfio-workbench", "--ExecutePreprocessor.timeout=60"];
  args.push(...flags, "--output-dir", dir, "--output", output, join(fixtures, "probe.ipynb"));
  // JUPYTER_PATH makes Jupyter find the kernelspec `kernel install --prefix` wrote.
  const env = { ...process.env, JUPYTER_PATH: join(dir, "prefix", "share", "jupyter") };
  return new Promise((resolve) => {
    execFile(JUPYTER, args, { env }, (err, _stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stderr }));
  });
}

describe.skipIf(!haveJupyter)("jupyter nbconvert --execute with the vfio-workbench kernelspec", () => {
  it("fails (non-zero exit) on the cell that throws", async () => {
    const { code, stderr } = await nbconvert("strict.ipynb");
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/CellExecutionError/);
    expect(stderr).toMatch(/Error: probe failure/);
  });

  it("with --allow-errors records the result, the error, and runs the next cell", async () => {
    const { code, stderr } = await nbconvert("allowed.ipynb", "--allow-errors");
    expect(code, stderr).toBe(0);
    const nb = JSON.parse(readFileSync(join(dir, "allowed.ipynb"), "utf8")) as Notebook;
    const [value, throws, after] = nb.cells;
    expect(value!.execution_count).toBe(1);
    expect(value!.outputs).toEqual([{ output_type: "execute_result", execution_count: 1, data: { "text/plain": ["42"] }, metadata: {} }]);
    expect(throws!.execution_count).toBe(2);
    expect(throws!.outputs).toMatchObject([{ output_type: "error", ename: "Error", evalue: "probe failure" }]);
    expect(after!.execution_count).toBe(3);
    expect(after!.outputs).toEqual([
      { output_type: "stream", name: "stdout", text: ["after the error\n"] },
      { output_type: "execute_result", execution_count: 3, data: { "text/plain": ["40"] }, metadata: {} },
    ]);
  });
});
