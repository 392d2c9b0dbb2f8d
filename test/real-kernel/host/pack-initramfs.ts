/**
 * Packs the guest's initramfs (an uncompressed newc cpio, which the kernel
 * unpacks fastest): busybox, node with the shared libraries `ldd` lists, and
 * under /pkg the package as the guest test needs it: package.json, the
 * native addon, the built JavaScript (dist/) the guest test imports, followed
 * import by import from its entry point and from the extra entry points (the
 * Jupyter kernel's launcher, which runs as a process of its own, and the
 * package's index, which notebook cells import), the type declarations cells
 * are type-checked against, the guest test itself, the notebooks, and the
 * node_modules all of that needs at run time (zeromq with its prebuilt addon,
 * tslab and the TypeScript compilers), less what is never loaded (other
 * platforms' addons, TypeScript's language server, source maps).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix, relative, resolve, sep } from "node:path";

export interface PackOptions {
  /** the repository (package.json, node_modules, build/Release) */
  repo: string;
  /** the package's built JavaScript, as `npm run build` emits it */
  dist: string;
  /** where the real-kernel test's TypeScript was compiled (same layout as dist/) */
  stage: string;
  /** the guest test's entry point, relative to the repository */
  entry: string;
  /** more entry points in dist/, reached by no import (a process of its own, or what notebook cells import) */
  entries?: readonly string[];
  /** declaration files in dist/ (.d.ts) to copy with what they import: what cells are type-checked against */
  types?: readonly string[];
  /** packages loaded by require() of a computed name, which no import shows */
  packages?: readonly string[];
  /** files copied under /pkg as they are, relative to the repository (the notebooks) */
  files?: readonly string[];
  /** files for /pkg/expected: name -> contents */
  expected: Record<string, string>;
  /** the guest's /init script */
  init: string;
  busybox: string;
  node: string;
  out: string;
}

const IMPORT = /(?:^|[;\s])(?:import|export)\s[^'"]*?\sfrom\s*["']([^"']+)["']|(?:^|[;\s])import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;

/** Module specifiers a compiled ES module imports statically (or by a literal dynamic import). */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

/** A bare specifier's package name ("a/b" -> "a", "@s/a/b" -> "@s/a"). */
export function packageName(spec: string): string {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

interface Closure {
  /** JavaScript files, relative to the repository root */
  files: string[];
  /** packages imported by bare name */
  packages: string[];
}

/**
 * Every file reachable from the entry by relative imports. Files of the test
 * itself come from the stage; everything else from dist/, so the guest runs the
 * package's own build.
 */
export function importClosure(entry: string | readonly string[], locate: (rel: string) => string): Closure {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = typeof entry === "string" ? [entry] : [...entry];
  while (todo.length) {
    const rel = todo.pop()!;
    if (files.has(rel)) continue;
    files.add(rel);
    const source = readFileSync(locate(rel), "utf8");
    for (const spec of importsOf(source)) {
      if (spec.startsWith("node:")) continue;
      if (spec.startsWith(".")) todo.push(declarationOf(rel, posix.normalize(posix.join(posix.dirname(rel), spec))));
      else packages.add(packageName(spec));
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

/** In a declaration file, "./x.js" names "./x.d.ts". */
function declarationOf(from: string, target: string): string {
  return from.endsWith(".d.ts") && target.endsWith(".js") ? `${target.slice(0, -3)}.d.ts` : target;
}

/**
 * Files of node_modules the guest never loads, as paths relative to node_modules: addons for
 * other systems, TypeScript's compiler CLI, language server and translated messages, source maps.
 */
const NEVER_LOADED: readonly RegExp[] = [
  /^zeromq\/build\/(?!linux\/x64(\/|$))[^/]+\/.*/,
  /^(typescript|@tslab\/typescript-for-tslab)\/lib\/(_?tsc|_?tsserver|tsserverlibrary|_?typingsInstaller|watchGuard|cancellationToken)\.js$/,
  /^(typescript|@tslab\/typescript-for-tslab)\/lib\/tsserverlibrary\.d\.ts$/,
  /^(typescript|@tslab\/typescript-for-tslab)\/lib\/(cs|de|es|fr|it|ja|ko|pl|pt-br|ru|tr|zh-cn|zh-tw)(\/|$)/,
  /\.map$/,
];

/** Whether the guest can do without a file of node_modules (path relative to node_modules). */
export function neverLoaded(rel: string): boolean {
  return NEVER_LOADED.some((re) => re.test(rel));
}

/** The shared libraries a binary loads (absolute paths), as ldd lists them; none for a static binary. */
export function sharedLibraries(binary: string): string[] {
  const r = spawnSync("ldd", [binary], { encoding: "utf8" });
  if (r.status !== 0) {
    if (/not a dynamic executable/.test(r.stdout + r.stderr)) return [];
    throw new Error(`ldd ${binary} failed: ${r.stderr.trim()}`);
  }
  const libs: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = /=>\s*(\/\S+)|^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push((m[1] ?? m[2])!);
  }
  return libs;
}

function copyInto(root: string, path: string, as = path): void {
  const dest = join(root, as);
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(realpathSync(path), dest);
  chmodSync(dest, 0o755);
}

/** A package with the packages it depends on, from the repository's node_modules. */
function packageClosure(repo: string, names: readonly string[]): string[] {
  const out = new Set<string>();
  const todo = [...names];
  while (todo.length) {
    const name = todo.pop()!;
    if (out.has(name)) continue;
    const dir = join(repo, "node_modules", name);
    if (!existsSync(join(dir, "package.json"))) throw new Error(`the guest test imports ${name}, which is not in node_modules`);
    out.add(name);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    // a dependency installed inside the package's own node_modules is copied with it
    todo.push(...Object.keys(pkg.dependencies ?? {}).filter((d) => !existsSync(join(dir, "node_modules", d, "package.json"))));
  }
  return [...out].sort();
}

export function packInitramfs(o: PackOptions): { files: number; packages: string[]; bytes: number } {
  const root = mkdtempSync(join(tmpdir(), "vfio-workbench-initramfs-"));
  try {
    for (const d of ["bin", "usr/bin", "proc", "sys", "dev", "tmp", "pkg/expected"]) mkdirSync(join(root, d), { recursive: true });
    copyInto(root, o.busybox, "bin/busybox");
    for (const lib of sharedLibraries(o.busybox)) copyInto(root, lib);
    copyInto(root, o.node, "usr/bin/node");
    for (const lib of sharedLibraries(o.node)) copyInto(root, lib);

    const pkg = join(root, "pkg");
    copyFileSync(join(o.repo, "package.json"), join(pkg, "package.json"));
    const addon = join(o.repo, "build", "Release", "vfio_native.node");
    if (!existsSync(addon)) throw new Error(`no native addon at ${addon}: run npm run build:native`);
    copyInto(root, addon, "pkg/build/Release/vfio_native.node");
    for (const lib of sharedLibraries(addon)) if (!existsSync(join(root, lib))) copyInto(root, lib);

    const testDir = "test/real-kernel/";
    const locate = (rel: string): string => {
      const p = rel.startsWith(testDir) ? join(o.stage, rel) : join(o.dist, rel);
      if (!existsSync(p)) throw new Error(`${rel} is not in ${rel.startsWith(testDir) ? "the compiled test" : "dist/ (run npm run build)"}`);
      return p;
    };
    const closure = importClosure([o.entry, ...(o.entries ?? [])], locate);
    const types = o.types?.length ? importClosure(o.types, locate) : { files: [], packages: [] };
    for (const rel of [...closure.files, ...types.files]) {
      mkdirSync(dirname(join(pkg, "dist", rel)), { recursive: true });
      copyFileSync(locate(rel), join(pkg, "dist", rel));
    }
    const packages = packageClosure(o.repo, [...new Set([...closure.packages, ...types.packages, ...(o.packages ?? [])])]);
    const modules = join(o.repo, "node_modules");
    for (const name of packages) {
      cpSync(join(modules, name), join(pkg, "node_modules", name), {
        recursive: true,
        dereference: true,
        filter: (source) => !neverLoaded(relative(modules, source).split(sep).join("/")),
      });
    }
    for (const rel of o.files ?? []) {
      mkdirSync(dirname(join(pkg, rel)), { recursive: true });
      copyFileSync(join(o.repo, rel), join(pkg, rel));
    }
    for (const [name, text] of Object.entries(o.expected)) writeFileSync(join(pkg, "expected", name), text);
    copyFileSync(o.init, join(root, "init"));
    chmodSync(join(root, "init"), 0o755);

    mkdirSync(dirname(resolve(o.out)), { recursive: true });
    const list = execFileSync("find", [".", "-print0"], { cwd: root });
    const cpio = spawnSync("cpio", ["--null", "-o", "-H", "newc", "-R", "0:0", "--quiet", "-O", resolve(o.out)], { cwd: root, input: list });
    if (cpio.status !== 0) throw new Error(`cpio failed: ${cpio.stderr.toString().trim()}`);
    return { files: closure.files.length + types.files.length, packages, bytes: statSync(resolve(o.out)).size };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
