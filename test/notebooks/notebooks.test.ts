/**
 * Every notebook is documentation whose claims are checked by its own cells. CI runs
 * `vfio-workbench check --twice` on all of them: each must execute cleanly (cells tagged
 * raises-exception must raise), be valid nbformat 4.5, and give identical outputs twice.
 */
import { execFile } from "node:child_process";
import { describe, expect, it } from "vitest";
import { listNotebooks } from "../../kernel-lib/kernel/notebook-check.js";
import { cliMain, repoRoot, requireBuild } from "../kernel/helpers.js";
import { siteInBrowser } from "../docs-site/site-in-browser.js";
import { livePage } from "../docs-site/live-page.js";

describe("notebooks", () => {
  it("there are notebooks", () => expect(listNotebooks(`${repoRoot}/notebooks`).length).toBeGreaterThan(0));

  it("vfio-workbench check --twice passes on every notebook", async () => {
    requireBuild();
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [cliMain, "check", "--twice", "notebooks"], { cwd: repoRoot, timeout: 900_000 }, (err, _stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stderr }),
      );
    });
    process.stderr.write(stderr);
    expect(code, stderr).toBe(0);
  }, 900_000);
});

// after check: it leaves what it ran in the build cache, so the site is built without executing again
siteInBrowser();
// "Run live" on that same site, served over HTTP
livePage();
