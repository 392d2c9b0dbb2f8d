/**
 * The API reference page, kept in the project's cache: reading the package with the type checker
 * takes seconds, and what it reads (the entry's sources or declarations, TypeScript's version,
 * the lockfile) rarely changes, so a rebuild that changed none of it reuses the page. The
 * compiler itself is loaded only on a miss.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { packageInfo } from "../kernel-lib/kernel/package-root.js";
import { filesUnder, KeyedFileCache } from "./cache.js";
import type { ReferencePage } from "./cli-reference.js";

/** The folders the package's entry draws its exports from: kernel-lib/ and hw-emu/, as sources or as declarations. */
function apiInputs(packageRoot: string): string[] {
  const fromSources = existsSync(join(packageRoot, "kernel-lib", "index.ts"));
  const base = fromSources ? packageRoot : join(packageRoot, "dist");
  const suffix = fromSources ? ".ts" : ".d.ts";
  return ["kernel-lib", "hw-emu"].flatMap((dir) => filesUnder(join(base, dir))).filter((f) => f.endsWith(suffix));
}

/** A hash of everything the API page is generated from. */
export function apiInputsHash(packageRoot = packageInfo().root): string {
  const hash = createHash("sha256");
  const typescript = JSON.parse(readFileSync(join(dirname(createRequire(import.meta.url).resolve("typescript")), "..", "package.json"), "utf8")) as { version: string };
  hash.update(`typescript ${typescript.version}\0`);
  const lock = join(packageRoot, "package-lock.json");
  if (existsSync(lock)) hash.update(readFileSync(lock)).update("\0");
  for (const file of apiInputs(packageRoot)) hash.update(relative(packageRoot, file)).update("\0").update(readFileSync(file)).update("\0");
  return hash.digest("hex");
}

/** The API reference page, from the project's cache (.vfio-workbench-cache/pages/) or made afresh and kept there. */
export async function cachedApiReferencePage(projectRoot: string): Promise<ReferencePage> {
  const cache = new KeyedFileCache(projectRoot, "pages", ".json");
  const key = `api-${apiInputsHash()}`;
  const hit = cache.get(key);
  if (hit !== null) return JSON.parse(hit) as ReferencePage;
  const { apiReferencePage } = await import("./api-reference.js");
  const page = apiReferencePage();
  cache.put(key, JSON.stringify(page));
  return page;
}
