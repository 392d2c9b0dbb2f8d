/**
 * Packs the guest's initramfs (an uncompressed newc cpio, which the kernel
 * unpacks fastest): busybox, node with the shared libraries `ldd` lists, and
 * under /pkg the package as the guest test needs it: package.json, the
 * native addon, the built JavaScript (dist/) the guest test imports, followed
 * import by import from its entry point, the guest test itself, and the
 * node_modules those files import (none, today).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix, resolve } from "node:path";

export interface PackOptions {
  /** the repository (package.json, node_modules, build/Release) */
  repo: string;
  /** the package's built JavaScript, as `npm run build` emits it */
  dist: string;
  /** where the real-kernel test's TypeScript was compiled (same layout as dist/) */
  stage: string;
  /** the guest test's entry point, relative to the repository */
  entry: string;
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
export function importClosure(entry: string, locate: (rel: string) => string): Closure {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const rel = todo.pop()!;
    if (files.has(rel)) continue;
    files.add(rel);
    const source = readFileSync(locate(rel), "utf8");
    for (const spec of importsOf(source)) {
      if (spec.startsWith("node:")) continue;
      if (spec.startsWith(".")) todo.push(posix.normalize(posix.join(posix.dirname(rel), spec)));
      else packages.add(packageName(spec));
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
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
    todo.push(...Object.keys(pkg.dependencies ?? {}));
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
    const closure = importClosure(o.entry, locate);
    for (const rel of closure.files) {
      mkdirSync(dirname(join(pkg, "dist", rel)), { recursive: true });
      copyFileSync(locate(rel), join(pkg, "dist", rel));
    }
    const packages = packageClosure(o.repo, closure.packages);
    for (const name of packages) cpSync(join(o.repo, "node_modules", name), join(pkg, "node_modules", name), { recursive: true, dereference: true });
    for (const [name, text] of Object.entries(o.expected)) writeFileSync(join(pkg, "expected", name), text);
    copyFileSync(o.init, join(root, "init"));
    chmodSync(join(root, "init"), 0o755);

    mkdirSync(dirname(resolve(o.out)), { recursive: true });
    const list = execFileSync("find", [".", "-print0"], { cwd: root });
    const cpio = spawnSync("cpio", ["--null", "-o", "-H", "newc", "-R", "0:0", "--quiet", "-O", resolve(o.out)], { cwd: root, input: list });
    if (cpio.status !== 0) throw new Error(`cpio failed: ${cpio.stderr.toString().trim()}`);
    return { files: closure.files.length, packages, bytes: statSync(resolve(o.out)).size };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
