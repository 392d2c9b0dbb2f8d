import { existsSync } from "node:fs";
import { join, relative, isAbsolute } from "node:path";
import { packageInfo, PACKAGE_NAME } from "./package-root.js";
import { tslabTypeScript } from "./tslab-internals.js";

/**
 * Lets cells type-check `import ... from "vfio-workbench"` when the notebook lives inside
 * this package's own tree (its notebooks/ folder, its tests). At run time Node resolves
 * the package's own name through the "exports" field (self-reference), but tslab type-checks
 * with Node10 module resolution, which only looks in node_modules folders. So the compiler
 * is shown `<root>/node_modules/vfio-workbench` as the package root itself.
 */

const PATCHED = Symbol.for("vfio-workbench.self-reference-types");

type Sys = Record<string | symbol, unknown> & {
  fileExists(path: string): boolean;
  directoryExists(path: string): boolean;
  readFile(path: string, encoding?: string): string | undefined;
  realpath?(path: string): string;
  getDirectories(path: string): string[];
};

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** Returns whether the mapping was installed (it is not needed outside the package, or when a real install exists). */
export function enableSelfReferenceTypes(cwd: string = process.cwd()): boolean {
  const { root } = packageInfo();
  const nodeModules = join(root, "node_modules").replaceAll("\\", "/");
  const alias = `${nodeModules}/${PACKAGE_NAME}`;
  if (!isInside(cwd, root) || existsSync(alias)) return false;
  const sys = tslabTypeScript().sys as Sys;
  if (sys[PATCHED]) return true;
  const rootSlash = root.replaceAll("\\", "/");
  const real = (path: string): string => {
    const p = path.replaceAll("\\", "/");
    if (p === alias) return rootSlash;
    if (p.startsWith(`${alias}/`)) return rootSlash + p.slice(alias.length);
    return path;
  };
  const fileExists = sys.fileExists.bind(sys);
  const directoryExists = sys.directoryExists.bind(sys);
  const readFile = sys.readFile.bind(sys);
  const realpath = sys.realpath?.bind(sys);
  const getDirectories = sys.getDirectories.bind(sys);
  sys.fileExists = (path) => fileExists(real(path));
  sys.directoryExists = (path) => path.replaceAll("\\", "/") === nodeModules || directoryExists(real(path));
  sys.readFile = (path, encoding) => readFile(real(path), encoding);
  // Reporting the real location keeps the package's own relative imports resolving in its real folder.
  sys.realpath = (path) => (realpath ? realpath(real(path)) : real(path));
  sys.getDirectories = (path) => getDirectories(real(path));
  sys[PATCHED] = true;
  return true;
}
