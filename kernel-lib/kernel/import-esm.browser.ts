/**
 * import-esm.ts for the browser build (esbuild puts this module in its place): the page's own
 * import(), which resolves URLs and whatever the page's import map names; there is no
 * node_modules folder to search.
 */
export async function importEsm<T = any>(specifier: string): Promise<T> {
  if (typeof specifier !== "string" || specifier === "") throw new TypeError("importEsm() needs a module specifier");
  return (await import(/* @vite-ignore */ specifier)) as T;
}
