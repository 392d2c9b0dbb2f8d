/**
 * `vfio-workbench check` as a user runs it: one progress line a notebook, a summary, a non-zero
 * exit naming the notebook, the cell and the reason for a failing claim, an invalid file, or (with
 * --twice) an output that differs between two runs.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliMain, repoRoot, requireBuild } from "../kernel/helpers.js";

const fixtures = join("test", "cli", "fixtures", "check");

function check(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  requireBuild();
  return new Promise((resolve) => {
    execFile(process.execPath, [cliMain, "check", ...args], { cwd: repoRoot, timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe("vfio-workbench check", () => {
  it("passes a notebook whose claims hold, with one progress line and a summary", async () => {
    const r = await check(join(fixtures, "claims.ipynb"));
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toMatch(/^test\/cli\/fixtures\/check\/claims\.ipynb {2}2\/2 cells {2}\d+\.\d s {2}ok$/);
    expect(lines[1]).toMatch(/^1 notebook: 1 passed, 0 failed, \d+\.\d s$/);
    expect(lines).toHaveLength(2);
  });

  it("runs a folder's notebooks in parallel and names each failure: notebook, cell, claim; an invalid file is not run", async () => {
    const r = await check("--jobs", "2", join(fixtures, "claims.ipynb"), join(fixtures, "claim-fails.ipynb"), join(fixtures, "no-ids.ipynb"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/claim-fails\.ipynb {2}1\/2 cells {2}\d+\.\d s {2}FAILED/);
    expect(r.stderr).toMatch(/no-ids\.ipynb {2}1 cells, not run {2}\d+\.\d s {2}invalid/);
    expect(r.stderr).toMatch(/3 notebooks: 1 passed, 2 failed/);
    expect(r.stderr).toContain(
      "vfio-workbench: test/cli/fixtures/check/claim-fails.ipynb: cell 1/2 (id cell-1): ClaimError: claim failed: two and two make five (Orwell, 1984): the check returned false",
    );
    expect(r.stderr).toContain("vfio-workbench: test/cli/fixtures/check/no-ids.ipynb: not valid nbformat 4.5: cell 1 (code): must have required property 'id'");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("--twice fails on an output that differs between runs and names the cell", async () => {
    const r = await check("--twice", join(fixtures, "nondeterministic.ipynb"), join(fixtures, "claims.ipynb"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nondeterministic\.ipynb \(first run\)/);
    expect(r.stderr).toMatch(/nondeterministic\.ipynb \(second run\)/);
    expect(r.stderr).toMatch(/2 notebooks, each run twice: 1 passed, 1 failed/);
    expect(r.stderr).toMatch(/nondeterministic\.ipynb: cell 2\/2 \(id cell-2\): output differs between two runs: …/);
    expect(r.stderr).not.toMatch(/claims\.ipynb: cell/);
  });

  it("answers bad arguments with one line and exit 2", async () => {
    for (const [args, message] of [
      [["no/such/place"], "vfio-workbench: no/such/place: no such file or folder"],
      [["--jobs", "0"], 'vfio-workbench: --jobs takes a positive integer, got "0"'],
      [["package.json"], "vfio-workbench: package.json: not a notebook (.ipynb) or a folder of notebooks"],
      [["test/uapi"], "vfio-workbench: no notebooks in test/uapi"],
    ] as const) {
      const r = await check(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim()).toBe(message);
    }
  });
});
