import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { KERNEL_DISPLAY_NAME, KERNEL_LANGUAGE, KERNEL_NAME } from "./kernel-info.js";
import { kernelLauncherPath } from "./launcher-path.js";
import { packageInfo } from "./package-root.js";

/**
 * Jupyter kernelspecs for this kernel, written directly (no Python or IPython involved):
 * `<kernels dir>/vfio-workbench/kernel.json` whose argv starts the launcher with the
 * connection file Jupyter passes.
 */

export type KernelspecLocation =
  | { kind: "user" }
  /** the prefix of the Python environment Jupyter runs in, asked from that Python (default: jupyterPython()) */
  | { kind: "sys-prefix"; python?: string }
  | { kind: "prefix"; prefix: string };

export interface Kernelspec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: "signal" | "message";
  env: Record<string, string>;
  metadata: Record<string, unknown>;
}

/** Jupyter's per-user data directory, chosen the way jupyter_core chooses it. */
export function jupyterUserDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  if (process.platform === "darwin") return join(homedir(), "Library", "Jupyter");
  if (process.platform === "win32") return join(env.APPDATA ?? join(homedir(), "AppData", "Roaming"), "jupyter");
  return join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "jupyter");
}

function firstLine(path: string): string {
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(256);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, length).toString("utf8").split("\n")[0]!;
  } finally {
    closeSync(fd);
  }
}

/**
 * The Python that runs the `jupyter` command on PATH, read from its #! line: the first
 * `python3` on PATH may belong to another environment than Jupyter (pyenv next to Debian's
 * packages, say). Falls back to "python3".
 */
export function jupyterPython(env: NodeJS.ProcessEnv = process.env): string {
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const candidate = join(dir, "jupyter");
    try {
      if (!statSync(candidate).isFile()) continue;
      const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(firstLine(candidate));
      if (!shebang) continue;
      // "#!/usr/bin/env python3" names the interpreter in its argument.
      return shebang[1]!.endsWith("/env") && shebang[2] ? shebang[2] : shebang[1]!;
    } catch {
      continue;
    }
  }
  return "python3";
}

export function pythonSysPrefix(python: string): string {
  const result = spawnSync(python, ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" });
  if (result.error || result.status !== 0) {
    const why = result.error ? result.error.message : result.stderr.trim() || `exit code ${result.status}`;
    throw new Error(`cannot ask ${python} for sys.prefix (${why}); use --prefix DIR or --python PATH`);
  }
  return result.stdout.trim();
}

/** The folder the kernelspec lives in for a location. */
export function kernelspecDir(location: KernelspecLocation): string {
  switch (location.kind) {
    case "user":
      return join(jupyterUserDataDir(), "kernels", KERNEL_NAME);
    case "sys-prefix":
      return join(pythonSysPrefix(location.python ?? jupyterPython()), "share", "jupyter", "kernels", KERNEL_NAME);
    case "prefix":
      return join(location.prefix, "share", "jupyter", "kernels", KERNEL_NAME);
  }
}

export function kernelspec(): Kernelspec {
  return {
    argv: [process.execPath, kernelLauncherPath(), "-f", "{connection_file}"],
    display_name: KERNEL_DISPLAY_NAME,
    language: KERNEL_LANGUAGE,
    // Interrupts arrive as interrupt_request, which the kernel's control thread answers even while a cell blocks.
    interrupt_mode: "message",
    env: {},
    metadata: { [KERNEL_NAME]: { version: packageInfo().version } },
  };
}

/** Writes (or rewrites) the kernelspec; returns its folder. */
export function installKernelspec(location: KernelspecLocation): string {
  const dir = kernelspecDir(location);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "kernel.json"), `${JSON.stringify(kernelspec(), null, 2)}\n`);
  return dir;
}

/** Removes the kernelspec; returns its folder. */
export function uninstallKernelspec(location: KernelspecLocation): string {
  const dir = kernelspecDir(location);
  if (!existsSync(join(dir, "kernel.json"))) throw new Error(`no ${KERNEL_NAME} kernelspec is installed in ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  return dir;
}
