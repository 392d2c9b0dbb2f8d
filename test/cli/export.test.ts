import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "./run-cli.js";
import { docutilsFile } from "../docs-site/docutils.js";

const scratch = mkdtempSync(join(tmpdir(), "vfio-workbench-export-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A user error: one line on stderr naming the problem, nothing on stdout, a non-zero exit. */
function expectOneLineError(r: ReturnType<typeof runCli>, message: RegExp): void {
  expect(r.status).not.toBe(0);
  expect(r.stdout).toBe("");
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(message);
}

describe("vfio-workbench export", () => {
  it("writes a notebook as reST that docutils accepts, claims included, and prints the files it wrote", () => {
    const out = join(scratch, "rst");
    const r = runCli(["export", "test/cli/fixtures/check/claims.ipynb", "--to", "rst", "--out", out], { timeoutMs: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n").map((l) => l.slice(l.lastIndexOf("/") + 1))).toEqual(["claims.rst"]);
    const rst = readFileSync(join(out, "claims.rst"), "utf8");
    expect(rst).toContain("✔ **Checked:** one and one make two");
    expect(rst).toMatch(/^::\n\n {4}"second cell"\n/m);
    const html = docutilsFile(join(out, "claims.rst"));
    expect({ stderr: html.stderr, status: html.status }).toEqual({ stderr: "", status: 0 });
  });

  it("writes Markdown into the folder --out names, creating it", () => {
    const out = join(scratch, "md", "deeper");
    const r = runCli(["export", "test/cli/fixtures/check/claims.ipynb", "--to", "md", "--out", out], { timeoutMs: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(["claims.md"]);
    expect(readFileSync(join(out, "claims.md"), "utf8")).toMatch(/^```typescript\nimport \{ claim, expectEqual \} from "vfio-workbench";/m);
  });

  it("does not export a notebook whose cell fails, naming the notebook, the cell and the error", () => {
    const out = join(scratch, "failing");
    const r = runCli(["export", "test/cli/fixtures/check/claim-fails.ipynb", "--to", "rst", "--out", out], { timeoutMs: 120_000 });
    expectOneLineError(r, /^vfio-workbench: test\/cli\/fixtures\/check\/claim-fails\.ipynb: cell 1\/2 \(id [\w-]+\): .*claim failed: two and two make five/);
    expect(existsSync(join(out, "claim-fails.rst"))).toBe(false);
  });

  it("rejects a missing notebook, a file that is not one, a missing or unknown --to and an --out that is a file, each in one line", () => {
    expectOneLineError(runCli(["export", "notebooks/nope.ipynb", "--to", "rst"]), /^vfio-workbench: notebooks\/nope\.ipynb: no such file$/m);
    expectOneLineError(runCli(["export", "package.json", "--to", "rst"]), /^vfio-workbench: package\.json: not a notebook \(\.ipynb\)$/m);
    expectOneLineError(runCli(["export", "test/cli/fixtures/check/claims.ipynb"]), /^vfio-workbench: export needs --to rst\|md$/m);
    expectOneLineError(runCli(["export", "test/cli/fixtures/check/claims.ipynb", "--to", "pdf"]), /^vfio-workbench: --to pdf: not a format export writes; choose rst or md$/m);
    const file = join(scratch, "a-file");
    writeFileSync(file, "");
    expectOneLineError(runCli(["export", "test/cli/fixtures/check/claims.ipynb", "--to", "md", "--out", file]), /--out .*a-file: not a folder$/m);
  });
});
