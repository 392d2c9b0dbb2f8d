import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_NAME = "vfio-workbench";

interface PackageJson {
  name?: string;
  version?: string;
}

let cached: { root: string; version: string } | undefined;

/** The package's root folder and version, found by walking up from this file (works from sources and from dist/). */
export function packageInfo(): { root: string; version: string } {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as PackageJson;
      if (pkg.name === PACKAGE_NAME) {
        cached = { root: dir, version: pkg.version ?? "0.0.0" };
        return cached;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/**
 * A compiled entry point that must run as its own process: the file next to the calling module
 * when that module runs from dist/, or dist's copy when it runs from sources (tests).
 * `distPath` is the file's path under dist/; returns null when neither exists (not built).
 */
export function compiledFile(callerUrl: string, distPath: string): string | null {
  const caller = fileURLToPath(callerUrl);
  const sibling = join(dirname(caller), distPath.split("/").pop()!);
  if (caller.endsWith(".js") && existsSync(sibling)) return sibling;
  const built = join(packageInfo().root, "dist", ...distPath.split("/"));
  return existsSync(built) ? built : null;
}
