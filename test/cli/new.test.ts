/**
 * `vfio-workbench new NAME`: the notebook it writes is valid nbformat 4.5 and passes `check` as
 * it stands; an existing name, a path or a malformed name is a one-line error and a non-zero exit.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nbformatProblems } from "../../kernel-lib/kernel/nbformat-validate.js";
import { cliMain, repoRoot, requireBuild, validateWithNbformat } from "../kernel/helpers.js";
import { runCli } from "./run-cli.js";

// inside the package tree, where cells resolve "vfio-workbench" to this package (.cache/ is ignored by git)
let dir: string;
beforeAll(() => {
  requireBuild();
  mkdirSync(join(repoRoot, ".cache"), { recursive: true });
  dir = relative(repoRoot, mkdtempSync(join(repoRoot, ".cache", "new-notebook-")));
});
afterAll(() => {
  if (dir) rmSync(join(repoRoot, dir), { recursive: true, force: true });
});

function check(path: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliMain, "check", path], { cwd: repoRoot, timeout: 180_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stderr }),
    );
  });
}

describe("vfio-workbench new", () => {
  it("writes DIR/NAME.ipynb: nbformat 4.5 with cell ids, the opening section, the backend cell and a claim; check passes it", async () => {
    const r = runCli(["new", "10-sriov-reset", "--dir", dir]);
    expect(r.status, r.stderr).toBe(0);
    const path = join(dir, "10-sriov-reset.ipynb");
    expect(r.stdout.trim()).toBe(path);
    const text = readFileSync(join(repoRoot, path), "utf8");
    const nb = JSON.parse(text) as { nbformat: number; nbformat_minor: number; cells: { id: string; cell_type: string; source: string[] }[] };
    expect([nb.nbformat, nb.nbformat_minor]).toEqual([4, 5]);
    expect(nbformatProblems(nb)).toEqual([]);
    validateWithNbformat(join(repoRoot, path));
    expect(nb.cells.map((c) => c.id)).toEqual(["intro", "backend", "first-claim-text", "first-claim"]);
    const intro = nb.cells[0]!.source.join("");
    expect(intro).toMatch(/^# Sriov reset\n/);
    expect(intro).toMatch(/\*\*You will learn\*\*/);
    expect(intro).toMatch(/\*\*Assumes\*\*/);
    expect(intro).toMatch(/\*\*uAPI identifiers covered:\*\*/);
    expect(nb.cells[1]!.source.join("")).toMatch(/the backend is chosen here, once/);
    expect(nb.cells[3]!.source.join("")).toMatch(/claim\(/);
    const run = await check(path);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/10-sriov-reset\.ipynb {2}2\/2 cells {2}\d+\.\d s {2}ok/);
  }, 180_000);

  it("--title sets the heading", () => {
    const r = runCli(["new", "11-titled", "--dir", dir, "--title", "Resetting a VF mid-migration"]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(repoRoot, dir, "11-titled.ipynb"), "utf8")).toContain('"# Resetting a VF mid-migration\\n"');
  });

  it("refuses an existing name with one line and a non-zero exit, leaving the file as it was", () => {
    const path = join(dir, "12-taken.ipynb");
    writeFileSync(join(repoRoot, path), "mine\n");
    const r = runCli(["new", "12-taken", "--dir", dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`vfio-workbench: ${path} exists already; choose another name\n`);
    expect(readFileSync(join(repoRoot, path), "utf8")).toBe("mine\n");
  });

  it.each([
    ["notebooks/13-x", /is a path; give a name and, for another folder, --dir/],
    ["13-x.ipynb", /give the name without \.ipynb, e\.g\. "13-x"/],
    ["13_Upper", /is not a notebook name: use lower-case letters, digits and single hyphens/],
    ["13--double", /is not a notebook name/],
    ["-13", /is not a notebook name|unknown option/],
  ])("refuses the name %s with one line and exit 2", (name, message) => {
    const r = runCli(["new", name, "--dir", dir]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
