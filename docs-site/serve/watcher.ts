/**
 * What `serve` watches, and how it tells a change that needs the package recompiled (its
 * TypeScript sources, in a checkout) from one that needs only a rebuild of the site (a
 * notebook, known-differences.md, the site's assets, or the built package itself).
 * Changes arriving close together are reported once.
 */
import { existsSync, watch, type FSWatcher } from "node:fs";
import { basename, join } from "node:path";

export type ChangeKind = "compile" | "rebuild";

export interface WatchTarget {
  /** a folder (watched with everything below it) or a file */
  path: string;
  /** what a change to a file here needs */
  kind: (file: string) => ChangeKind | null;
}

/** Editors' and builds' scratch files, which are not changes to the project. */
function isScratch(file: string): boolean {
  const name = basename(file);
  return name.startsWith(".") || name.endsWith("~") || name.endsWith(".tmp") || name.endsWith(".swp") || /\.\d+\.tmp$/.test(name);
}

export class ChangeWatcher {
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private kinds = new Set<ChangeKind>();
  private files = new Set<string>();

  constructor(
    targets: readonly WatchTarget[],
    private readonly onChange: (kinds: ReadonlySet<ChangeKind>, files: readonly string[]) => void,
    private readonly debounceMs = 200,
  ) {
    for (const target of targets) {
      if (!existsSync(target.path)) continue;
      const watcher = watch(target.path, { recursive: true }, (_event, name) => {
        const file = name === null ? target.path : join(target.path, name.toString());
        if (isScratch(file)) return;
        const kind = target.kind(file);
        if (kind !== null) this.note(kind, file);
      });
      this.watchers.push(watcher);
    }
  }

  private note(kind: ChangeKind, file: string): void {
    this.kinds.add(kind);
    this.files.add(file);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const kinds = this.kinds;
      const files = [...this.files];
      this.kinds = new Set();
      this.files = new Set();
      this.onChange(kinds, files);
    }, this.debounceMs);
  }

  close(): void {
    clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
  }
}

/**
 * The targets for a project and the package that builds it. In a checkout of the package (its
 * TypeScript sources and tsconfig.build.json present) a source change recompiles; in an
 * installed package the built code (dist/) is watched instead.
 */
export function watchTargets(projectRoot: string, packageRoot: string): WatchTarget[] {
  const rebuild = () => "rebuild" as const;
  const targets: WatchTarget[] = [
    { path: join(projectRoot, "notebooks"), kind: (f) => (f.endsWith(".ipynb") ? "rebuild" : null) },
    { path: join(projectRoot, "docs-site", "known-differences.md"), kind: rebuild },
    { path: join(projectRoot, "package-lock.json"), kind: rebuild },
  ];
  const checkout = existsSync(join(packageRoot, "tsconfig.build.json")) && existsSync(join(packageRoot, "kernel-lib", "index.ts"));
  if (checkout) {
    for (const dir of ["kernel-lib", "hw-emu", "cli"]) targets.push({ path: join(packageRoot, dir), kind: (f) => (f.endsWith(".ts") ? "compile" : null) });
    // docs-site holds both the build's code and the site's assets
    targets.push({ path: join(packageRoot, "docs-site"), kind: (f) => (f.endsWith(".ts") ? "compile" : "rebuild") });
  } else {
    targets.push({ path: join(packageRoot, "dist"), kind: (f) => (f.endsWith(".js") ? "rebuild" : null) });
    if (packageRoot !== projectRoot) targets.push({ path: join(packageRoot, "docs-site"), kind: rebuild });
  }
  return targets;
}
