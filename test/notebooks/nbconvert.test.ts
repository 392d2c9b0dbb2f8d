/**
 * Every notebook also executes under a real Jupyter client: Debian's `jupyter nbconvert --execute`
 * with the installed kernelspec, as a reader running it outside vfio-workbench would.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listNotebooks } from "../../kernel-lib/kernel/notebook-check.js";
import type { Notebook } from "../../kernel-lib/kernel/notebook.js";
import { CLAIM_MIME } from "../../kernel-lib/display/claim.js";
import { cliMain, repoRoot, requireBuild } from "../kernel/helpers.js";

// CI installs: jupyter-nbconvert python3-nbclient python3-jupyter-client jupyter-client
const JUPYTER = "/usr/bin/jupyter";
const haveJupyter = existsSync(JUPYTER);
if (!haveJupyter) console.log(`skipping the notebooks under nbconvert: ${JUPYTER} is not installed`);

let dir: string;
const notebooks = listNotebooks(join(repoRoot, "notebooks"));

beforeAll(() => {
  if (!haveJupyter) return;
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), "vwb-nbconvert-notebooks-"));
  execFileSync(process.execPath, [cliMain, "kernel", "install", "--prefix", join(dir, "prefix")]);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!haveJupyter)("the notebooks under jupyter nbconvert --execute", () => {
  it("every notebook executes cleanly, and its claims are in the outputs", async () => {
    const args = ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=vfio-workbench", "--ExecutePreprocessor.timeout=120"];
    args.push("--output-dir", dir, ...notebooks);
    const env = { ...process.env, JUPYTER_PATH: join(dir, "prefix", "share", "jupyter") };
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(JUPYTER, args, { env, cwd: repoRoot, timeout: 600_000, maxBuffer: 64 << 20 }, (err, _stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stderr }),
      );
    });
    expect(code, stderr).toBe(0);
    for (const path of notebooks) {
      const executed = JSON.parse(readFileSync(join(dir, basename(path)), "utf8")) as Notebook;
      const claims = executed.cells.flatMap((c) => (c.outputs ?? []).filter((o) => o.output_type === "display_data" && CLAIM_MIME in o.data));
      expect(claims.length, basename(path)).toBeGreaterThanOrEqual(8);
    }
  }, 600_000);
});
