/**
 * The build cache: an executed notebook is kept under a key made of everything its outputs
 * depend on — the notebook's source, the lockfile, the Node version and this package's own
 * built code — so an unchanged notebook is not executed again. It lives in the project
 * (.vfio-workbench-cache/), and deleting it only costs a cold build.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

export const CACHE_DIR = ".vfio-workbench-cache";

export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/** A hash of the package's own code as it runs (dist/), so any change to the library or the emulator invalidates every entry. */
export function packageCodeHash(packageRoot: string): string {
  const hash = createHash("sha256");
  const dist = join(packageRoot, "dist");
  const files = filesUnder(dist).filter((f) => f.endsWith(".js"));
  if (files.length === 0) throw new Error(`${dist} holds no built code: run npm run build first`);
  for (const file of files) hash.update(relative(dist, file)).update("\0").update(readFileSync(file)).update("\0");
  return hash.digest("hex");
}

export interface CacheKeyParts {
  notebookSource: string;
  lockfile: string;
  nodeVersion: string;
  codeHash: string;
}

export function cacheKey(parts: CacheKeyParts): string {
  return createHash("sha256")
    .update(parts.notebookSource)
    .update("\0lock\0")
    .update(parts.lockfile)
    .update("\0node\0")
    .update(parts.nodeVersion)
    .update("\0code\0")
    .update(parts.codeHash)
    .digest("hex");
}

/** Files by key in one folder of the cache (executed notebooks, generated pages); written atomically so an interrupted build leaves no half entry. */
export class KeyedFileCache {
  private readonly dir: string;
  constructor(
    projectRoot: string,
    kind: string,
    private readonly extension: string,
  ) {
    this.dir = join(projectRoot, CACHE_DIR, kind);
  }

  private path(key: string): string {
    return join(this.dir, `${key}${this.extension}`);
  }

  get(key: string): string | null {
    const path = this.path(key);
    return existsSync(path) && statSync(path).size > 0 ? readFileSync(path, "utf8") : null;
  }

  put(key: string, content: string): void {
    mkdirSync(this.dir, { recursive: true });
    const temp = `${this.path(key)}.${process.pid}.tmp`;
    writeFileSync(temp, content);
    renameSync(temp, this.path(key));
  }
}

/** Executed notebooks by key. */
export class ExecutionCache extends KeyedFileCache {
  constructor(projectRoot: string) {
    super(projectRoot, "executed", ".ipynb");
  }
}

/**
 * The cache as `build` and `check` use it: keys made with the project's lockfile, this Node and
 * the package's built code, so `check` can leave behind what a later `build` would execute.
 */
export class ProjectCache {
  private readonly store: ExecutionCache;
  private readonly renderedStore: KeyedFileCache;
  private readonly shared: Omit<CacheKeyParts, "notebookSource">;

  constructor(projectRoot: string, packageRoot: string) {
    this.store = new ExecutionCache(projectRoot);
    this.renderedStore = new KeyedFileCache(projectRoot, "rendered", ".json");
    const lockPath = join(projectRoot, "package-lock.json");
    this.shared = { lockfile: existsSync(lockPath) ? readFileSync(lockPath, "utf8") : "", nodeVersion: process.version, codeHash: packageCodeHash(packageRoot) };
  }

  keyFor(notebookSource: string): string {
    return cacheKey({ notebookSource, ...this.shared });
  }

  get(notebookSource: string): string | null {
    return this.store.get(this.keyFor(notebookSource));
  }

  put(notebookSource: string, executed: string): void {
    this.store.put(this.keyFor(notebookSource), executed);
  }

  /** A page rendered from an executed notebook, by that notebook and the package's code (which renders it). */
  private renderedKey(executed: string, slug: string): string {
    return createHash("sha256").update(executed).update("\0slug\0").update(slug).update("\0code\0").update(this.shared.codeHash).digest("hex");
  }

  getRendered(executed: string, slug: string): string | null {
    return this.renderedStore.get(this.renderedKey(executed, slug));
  }

  putRendered(executed: string, slug: string, rendered: string): void {
    this.renderedStore.put(this.renderedKey(executed, slug), rendered);
  }
}
