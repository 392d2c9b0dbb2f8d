import { execFile, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelClient } from "../../kernel-lib/kernel/client.js";
import { newIpcConnection } from "../../kernel-lib/kernel/connection.js";
import { jupyterPython, jupyterUserDataDir, kernelspecDir } from "../../kernel-lib/kernel/kernelspec.js";
import { cliMain, dist, requireBuild } from "./helpers.js";

let dir: string;

beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), "vwb-kernelspec-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliMain, ...args], { env }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe("vfio-workbench kernel install / uninstall", () => {
  it("writes kernels/vfio-workbench/kernel.json under --prefix with an absolute argv, and removes it", async () => {
    const prefix = join(dir, "prefix");
    const installed = await cli(["kernel", "install", "--prefix", prefix]);
    expect(installed.code).toBe(0);
    const specDir = join(prefix, "share", "jupyter", "kernels", "vfio-workbench");
    expect(installed.stdout).toBe(`installed kernelspec vfio-workbench in ${specDir}\n`);
    const spec = JSON.parse(readFileSync(join(specDir, "kernel.json"), "utf8"));
    expect(spec).toMatchObject({ display_name: "TypeScript (vfio-workbench)", language: "typescript", interrupt_mode: "message" });
    expect(spec.argv).toEqual([process.execPath, join(dist, "kernel-lib", "kernel", "launcher.js"), "-f", "{connection_file}"]);

    const removed = await cli(["kernel", "uninstall", "--prefix", prefix]);
    expect(removed.code).toBe(0);
    expect(existsSync(specDir)).toBe(false);
    const again = await cli(["kernel", "uninstall", "--prefix", prefix]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`vfio-workbench: no vfio-workbench kernelspec is installed in ${specDir}\n`);
  });

  it("installs per user into Jupyter's data folder", async () => {
    const data = join(dir, "user-data");
    const { code } = await cli(["kernel", "install", "--user"], { ...process.env, JUPYTER_DATA_DIR: data });
    expect(code).toBe(0);
    expect(existsSync(join(data, "kernels", "vfio-workbench", "kernel.json"))).toBe(true);
    expect(jupyterUserDataDir({ XDG_DATA_HOME: "/xdg" })).toBe(process.platform === "linux" ? "/xdg/jupyter" : jupyterUserDataDir({ XDG_DATA_HOME: "/xdg" }));
  });

  it("asks the given Python for sys.prefix with --sys-prefix, and says so when it cannot", async () => {
    const fakePython = join(dir, "fake-python");
    writeFileSync(fakePython, `#!/bin/sh\necho ${join(dir, "venv")}\n`);
    chmodSync(fakePython, 0o755);
    expect(kernelspecDir({ kind: "sys-prefix", python: fakePython })).toBe(join(dir, "venv", "share", "jupyter", "kernels", "vfio-workbench"));
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "jupyter"), `#!${fakePython}\nprint("jupyter")\n`);
    expect(jupyterPython({ PATH: bin })).toBe(fakePython);
    writeFileSync(join(bin, "jupyter"), "#!/usr/bin/env python3.11\n");
    expect(jupyterPython({ PATH: bin })).toBe("python3.11");
    expect(jupyterPython({ PATH: join(dir, "nowhere") })).toBe("python3");
    const missing = await cli(["kernel", "install", "--sys-prefix", "--python", join(dir, "no-such-python")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^vfio-workbench: cannot ask .*no-such-python for sys.prefix/);
  });

  it("refuses more than one location", async () => {
    const { code, stderr } = await cli(["kernel", "install", "--user", "--prefix", dir]);
    expect(code).toBe(2);
    expect(stderr).toBe("vfio-workbench: choose one of --user, --sys-prefix and --prefix\n");
  });
});

describe("vfio-workbench kernel start", () => {
  it("runs the kernel for a connection file until shutdown_request", async () => {
    const connection = newIpcConnection(join(dir, "k"));
    const file = join(dir, "connection.json");
    writeFileSync(file, JSON.stringify(connection));
    const child = spawn(process.execPath, [cliMain, "kernel", "start", "-f", file], { stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const client = await KernelClient.connect(connection);
    try {
      const { messages } = await client.execute("6 * 7");
      expect(messages.find((m) => m.header.msg_type === "execute_result")!.content.data).toEqual({ "text/plain": "42" });
      await client.request("control", "shutdown_request", { restart: false });
      expect(await exited).toBe(0);
    } finally {
      await client.close();
      child.kill("SIGKILL");
    }
  });

  it("reports an unreadable connection file in one line", async () => {
    const { code, stderr } = await cli(["kernel", "start", "-f", join(dir, "missing.json")]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^vfio-workbench: cannot read connection file .*missing\.json: ENOENT/);
  });
});
