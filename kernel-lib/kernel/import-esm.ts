import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * A real dynamic import for notebook cells. tslab compiles a cell's own `import()` to
 * `require()`, which cannot load ES modules that use top-level await (vega, vega-lite:
 * ERR_REQUIRE_ASYNC_MODULE). This module is loaded by Node's own loader, so the `import()`
 * below stays an import.
 *
 * Relative specifiers are taken relative to the working directory (the notebook's folder).
 * Bare specifiers resolve from this package first, then from the working directory.
 */
export async function importEsm<T = any>(specifier: string): Promise<T> {
  if (typeof specifier !== "string" || specifier === "") throw new TypeError("importEsm() needs a module specifier");
  if (specifier.startsWith("./") || specifier.startsWith("../") || isAbsolute(specifier)) {
    return (await import(pathToFileURL(resolve(process.cwd(), specifier)).href)) as T;
  }
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    if ((err as { code?: string }).code !== "ERR_MODULE_NOT_FOUND") throw err;
    let resolved: string;
    try {
      resolved = createRequire(join(process.cwd(), "notebook.js")).resolve(specifier);
    } catch {
      throw err;
    }
    return (await import(pathToFileURL(resolved).href)) as T;
  }
}
