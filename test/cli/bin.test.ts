/**
 * The built bin runs the way npm and npx run it: directly, by its shebang, so it needs
 * the executable bits (tsc writes 0644; the postbuild step adds them).
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

  it("`npx vfio-workbench --help` works in a fresh clone at a path npx's cache already links", () => {
    const dir = mkdtempSync(join(tmpdir(), "vfio-workbench-clone-"));
    scratch.push(dir);
    const tree = join(dir, "clone");
    for (const file of trackedFiles()) cpSync(join(root, file), join(tree, file), { recursive: true });
    // the installed dependencies stand in for `npm ci`, whose prepare step is this same build
    symlinkSync(join(root, "node_modules"), join(tree, "node_modules"));
    // a private npm cache, so npx's links land in the scratch folder and not in the home directory
    const env = { ...process.env, npm_config_cache: join(dir, "npm-cache"), npm_config_update_notifier: "false" };
    const build = () => spawnSync("npm", ["run", "build"], { cwd: tree, encoding: "utf8", timeout: 180_000, env });
    const npxHelp = () => spawnSync("npx", ["--no-install", "vfio-workbench", "--help"], { cwd: tree, encoding: "utf8", timeout: 60_000, env });
    expect(build().status).toBe(0);
    // the first npx links the bin into its cache (and marks it executable while linking)
    expect(npxHelp().status).toBe(0);
    // a fresh clone at the same path: its build writes new files, which npx's cached link reaches unmarked
    rmSync(join(tree, "dist"), { recursive: true, force: true });
    const rebuilt = build();
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    const help = npxHelp();
    expect(help.stderr).not.toMatch(/Permission denied/);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: vfio-workbench /);
  }, 300_000);
});
