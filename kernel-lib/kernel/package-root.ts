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
