import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { JupyterMessage } from "../../kernel-lib/kernel/wire.js";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const fixtures = join(repoRoot, "test", "kernel", "fixtures");
export const dist = join(repoRoot, "dist");
export const cliMain = join(dist, "cli", "main.js");

/** The kernel runs from dist/ (a separate process), so the suites need `npm run build` first. */
export function requireBuild(): void {
  if (!existsSync(join(dist, "kernel-lib", "kernel", "launcher.js")) || !existsSync(cliMain)) {
    throw new Error("dist/ is missing the kernel: run `npm run build` before these tests");
  }
}

/** iopub messages of a request without the status messages. */
export function outputs(messages: JupyterMessage[]): JupyterMessage[] {
  return messages.filter((m) => m.header.msg_type !== "status");
}

export function ofType(messages: JupyterMessage[], type: string): JupyterMessage[] {
  return messages.filter((m) => m.header.msg_type === type);
}

const DEBIAN_PYTHON = "/usr/bin/python3";

/**
 * Checks a notebook against the nbformat JSON schema with Jupyter's own validator when Debian's
 * python3-nbformat is installed (it comes with jupyter-nbconvert); returns false when it is not.
 */
export function validateWithNbformat(path: string): boolean {
  if (!existsSync(DEBIAN_PYTHON)) return false;
  const probe = spawnSync(DEBIAN_PYTHON, ["-c", "import nbformat"], { encoding: "utf8" });
  if (probe.status !== 0) return false;
  const check = spawnSync(
    DEBIAN_PYTHON,
    ["-c", "import sys, nbformat\nnb = nbformat.read(sys.argv[1], as_version=4)\nnbformat.validate(nb)\nassert (nb.nbformat, nb.nbformat_minor) >= (4, 5)", path],
    { encoding: "utf8" },
  );
  if (check.status !== 0) throw new Error(`${path} is not a valid nbformat 4.5 notebook:\n${check.stderr}`);
  return true;
}
