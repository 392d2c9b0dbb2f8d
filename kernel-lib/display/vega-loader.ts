/**
 * Loads vega and vega-lite on first use.
 *
 * Both use top-level await, so Node refuses to require() them
 * (ERR_REQUIRE_ASYNC_MODULE), and a notebook cell compiled to CommonJS loads
 * this package with require(). They are therefore never imported statically
 * anywhere in the package: this module reaches them with a real dynamic
 * import(), which TypeScript keeps as import() because the package is ESM, and
 * which works even when the module doing it was itself loaded by require().
 * Only type imports name them elsewhere.
 */
import type * as VegaModule from "vega";
import type * as VegaLiteModule from "vega-lite";

export interface VegaModules {
  vega: typeof VegaModule;
  vl: typeof VegaLiteModule;
}

let loading: Promise<VegaModules> | undefined;

export function loadVega(): Promise<VegaModules> {
  loading ??= Promise.all([import("vega"), import("vega-lite")]).then(
    ([vega, vl]) => {
      // Text widths from vega's estimate, never from a canvas: Node has none, and a page that
      // measured with its fonts would draw the same chart with other numbers than the build did.
      // (vega re-exports vega-scenegraph's textMetrics; its typings leave it out)
      (vega as unknown as { textMetrics: { canvas(use: boolean): void } }).textMetrics.canvas(false);
      return { vega, vl };
    },
    (e: unknown) => {
      // let a later call try again rather than caching the failure
      loading = undefined;
      throw e;
    },
  );
  return loading;
}
