/**
 * The built bin runs the way npm and npx run it: directly, by its shebang, so it needs
 * the executable bits (tsc writes 0644; the postbuild step adds them).
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { bin: Record<string, string> };

/** The files git tracks or would add, as a fresh clone of this tree would hold them. */
function trackedFiles(): string[] {
  const r = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return r.stdout.split("\0").filter((f) => f !== "" && !f.startsWith("dist/"));
}

describe("the vfio-workbench bin", () => {
  const scratch: string[] = [];
  afterAll(() => {
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  it("every bin package.json names is built executable by its owner, group and others", () => {
    expect(Object.keys(pkg.bin)).toEqual(["vfio-workbench"]);
    for (const bin of Object.values(pkg.bin)) {
      const mode = statSync(join(root, bin)).mode & 0o777;
      expect({ bin, mode: mode.toString(8) }).toEqual({ bin, mode: (mode | 0o111).toString(8) });
    }
  });

  it("runs by its own shebang, without naming node", () => {
    const r = spawnSync(join(root, pkg.bin["vfio-workbench"]!), ["--version"], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("`npx vfio-workbench --help` works in a fresh copy of the tree after `npm run build`", () => {
    const dir = mkdtempSync(join(tmpdir(), "vfio-workbench-clone-"));
    scratch.push(dir);
    for (const file of trackedFiles()) cpSync(join(root, file), join(dir, file), { recursive: true });
    // the installed dependencies stand in for `npm ci`, whose prepare step is this same build
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
    const build = spawnSync("npm", ["run", "build"], { cwd: dir, encoding: "utf8", timeout: 180_000 });
    expect(build.status, build.stderr).toBe(0);
    const help = spawnSync("npx", ["--no-install", "vfio-workbench", "--help"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    expect(help.stderr).not.toMatch(/Permission denied/);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: vfio-workbench /);
    expect(dirname(pkg.bin["vfio-workbench"]!)).toBe("./dist/cli");
  }, 240_000);
});
