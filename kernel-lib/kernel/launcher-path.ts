import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { KernelError } from "./kernel-error.js";
import { packageInfo } from "./package-root.js";

/**
 * The compiled kernel entry point (`node <this> -f CONNECTION_FILE`). From dist/ it sits next
 * to this module; when this module runs from sources (tests), the built copy in dist/ is used.
 */
export function kernelLauncherPath(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = join(dirname(here), "launcher.js");
  if (here.endsWith(".js") && existsSync(sibling)) return sibling;
  const built = join(packageInfo().root, "dist", "kernel-lib", "kernel", "launcher.js");
  if (existsSync(built)) return built;
  throw new KernelError(`the kernel launcher is not built (${built} is missing): run npm run build`);
}
