import { KernelError } from "./kernel-error.js";
import { compiledFile } from "./package-root.js";

const LAUNCHER = "kernel-lib/kernel/launcher.js";

/** The compiled kernel entry point (`node <this> -f CONNECTION_FILE`). */
export function kernelLauncherPath(): string {
  const path = compiledFile(import.meta.url, LAUNCHER);
  if (!path) throw new KernelError(`the kernel launcher is not built (dist/${LAUNCHER} is missing): run npm run build`);
  return path;
}
