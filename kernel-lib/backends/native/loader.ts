/**
 * Finding and loading the native addon. It is optional: the package installs
 * without it (no compiler, not Linux, `npm ci --ignore-scripts`), and the
 * native backend then reports why it is unavailable instead of failing later.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ADDON_FUNCTIONS, type NativeAddon } from "./addon.js";

/** Environment variable naming the addon file to load instead of the built one. */
export const ADDON_PATH_ENV = "VFIO_WORKBENCH_NATIVE_ADDON";

export interface NativeLoadOptions {
  /** The .node file to load; defaults to $VFIO_WORKBENCH_NATIVE_ADDON, then the package's build/Release/vfio_native.node. */
  addonPath?: string;
}

export type AddonLoad = { available: true; addon: NativeAddon; path: string } | { available: false; reason: string };

const loaded = new Map<string, NativeAddon>();
const require = createRequire(import.meta.url);

/** The package root: the nearest folder above this file whose package.json names vfio-workbench (sources and dist/ alike). */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: unknown }).name === "vfio-workbench") return dir;
      } catch {
        // an unreadable package.json is not ours; keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function addonPath(options: NativeLoadOptions): string | undefined {
  const chosen = options.addonPath ?? process.env[ADDON_PATH_ENV];
  if (chosen) return resolve(chosen);
  const root = packageRoot();
  return root === undefined ? undefined : join(root, "build", "Release", "vfio_native.node");
}

/** Load the addon (once per file), or say why it cannot be used. */
export function loadAddon(options: NativeLoadOptions = {}): AddonLoad {
  if (process.platform !== "linux") return { available: false, reason: `it needs Linux, and this is ${process.platform}` };
  const path = addonPath(options);
  if (path === undefined) return { available: false, reason: "the addon was not built (cannot find the vfio-workbench package root to look for it)" };
  const cached = loaded.get(path);
  if (cached) return { available: true, addon: cached, path };
  if (!existsSync(path)) {
    return {
      available: false,
      reason: `the addon was not built (no file at ${path}; \`npm run build:native\` builds it and shows why a build fails)`,
    };
  }
  let mod: unknown;
  try {
    mod = require(path);
  } catch (e) {
    return { available: false, reason: `the addon at ${path} failed to load: ${e instanceof Error ? e.message : String(e)}` };
  }
  const missing = ADDON_FUNCTIONS.filter((name) => typeof (mod as Record<string, unknown> | null)?.[name] !== "function");
  if (missing.length) return { available: false, reason: `${path} is not the vfio-workbench addon (it lacks ${missing.join(", ")})` };
  loaded.set(path, mod as NativeAddon);
  return { available: true, addon: mod as NativeAddon, path };
}
