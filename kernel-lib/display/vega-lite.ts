/**
 * Vega-Lite charts rendered in Node.
 *
 * A chart becomes one bundle: the spec itself as application/vnd.vegalite.v5+json
 * (front ends with a Vega renderer draw it interactively), a static SVG, the
 * SVG inline as HTML, and a line of plain text. The theme (transparent
 * background, mid-grey text and axes, the shared palette) is merged under the
 * caller's own config, so the interactive and static pictures look alike and
 * read on light and dark pages.
 *
 * Note on front ends: JupyterLab ranks text/html (50) above its Vega renderer
 * (57), so a bundle that carries HTML is shown as the static picture there.
 * Pass `{ html: false }` to get the interactive chart in JupyterLab at the cost
 * of the HTML fallback that nbconvert's HTML export relies on.
 */
import type { Config } from "vega-lite";
import { mimeBundle, type MimeBundle } from "./mime-bundle.js";
import { htmlForSvg } from "./svg-bundle.js";
import { finishSvg } from "./svg-ids.js";
import { FONT_SANS, INK, PALETTE } from "./theme.js";
import { loadVega } from "./vega-loader.js";

export const VEGALITE_MIME = "application/vnd.vegalite.v5+json";
export const VEGALITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

/**
 * A Vega-Lite specification (vega-lite's TopLevelSpec). Typed structurally so
 * notebook cells type-check without resolving vega-lite's own declarations.
 * Emitted as Vega-Lite 5: use features Vega-Lite 5 has.
 */
export type VegaLiteSpec = object;

export interface VegaLiteChartOptions {
  /** plain-text description; defaults to one naming the chart's title and size */
  alt?: string;
  /** include the text/html fallback (default true); see the module note about JupyterLab */
  html?: boolean;
}

const AXIS = {
  labelColor: INK,
  titleColor: INK,
  domainColor: INK,
  tickColor: INK,
  gridColor: INK,
  gridOpacity: 0.25,
  labelFont: FONT_SANS,
  titleFont: FONT_SANS,
};

/**
 * The theme every chart gets, under the caller's config. Returned as plain
 * JSON so this module's declarations never name vega-lite's types (notebook
 * cells resolve modules the Node 10 way, which cannot find them).
 */
export function vegaLiteTheme(): Record<string, unknown> {
  const theme: Config = {
    background: "transparent",
    font: FONT_SANS,
    view: { stroke: INK, strokeOpacity: 0.35 },
    axis: { ...AXIS },
    legend: { labelColor: INK, titleColor: INK, labelFont: FONT_SANS, titleFont: FONT_SANS },
    header: { labelColor: INK, titleColor: INK },
    title: { color: INK, subtitleColor: INK, anchor: "start", font: FONT_SANS },
    range: { category: [...PALETTE] },
    mark: { color: PALETTE[0]! },
  };
  return theme as Record<string, unknown>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Theme under the caller's config, one level deep (axis, legend, title... merge key by key). */
function mergeConfig(theme: Record<string, unknown>, user: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...theme };
  for (const [k, v] of Object.entries(user)) {
    const t = out[k];
    out[k] = isPlainObject(t) && isPlainObject(v) ? { ...t, ...v } : v;
  }
  return out;
}

/** The spec as emitted: a plain JSON copy with the theme merged in and a Vega-Lite 5 schema. */
export function themedSpec(spec: VegaLiteSpec): Record<string, unknown> {
  let copy: Record<string, unknown>;
  try {
    copy = JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`a Vega-Lite spec must be plain JSON (convert bigints and typed arrays first): ${(e as Error).message}`, { cause: e });
  }
  if (!isPlainObject(copy)) throw new Error("a Vega-Lite spec must be an object");
  const userConfig = isPlainObject(copy.config) ? copy.config : {};
  const { $schema, ...rest } = copy;
  return {
    $schema: typeof $schema === "string" ? $schema : VEGALITE_SCHEMA,
    ...rest,
    config: mergeConfig(vegaLiteTheme(), userConfig),
  };
}

/** Render a Vega-Lite spec to standalone SVG (namespaced, stable ids). */
export async function vegaLiteSvg(spec: VegaLiteSpec): Promise<string> {
  const { vega, vl } = await loadVega();
  const compiled = vl.compile(themedSpec(spec) as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return finishSvg(await view.toSVG(), "vl");
  } finally {
    view.finalize();
  }
}

function describe(spec: Record<string, unknown>, svg: string): string {
  const t = spec.title;
  const title = typeof t === "string" ? t : isPlainObject(t) && typeof t.text === "string" ? t.text : undefined;
  const root = /^<svg\b[^>]*>/.exec(svg)?.[0] ?? "";
  const w = /\swidth="([\d.]+)"/.exec(root)?.[1];
  const h = /\sheight="([\d.]+)"/.exec(root)?.[1];
  return `Vega-Lite chart${title ? `: ${title}` : ""}${w && h ? ` (${w}×${h})` : ""}`;
}

/**
 * Render a Vega-Lite spec to an output bundle: the spec (Vega-Lite 5 mime
 * type), image/svg+xml, text/html (unless `html: false`) and text/plain.
 *
 * @example await vegaLiteChart({ data: { values: rows }, mark: "bar", encoding: { x: { field: "state" }, y: { aggregate: "count" } } })
 */
export async function vegaLiteChart(spec: VegaLiteSpec, options: VegaLiteChartOptions = {}): Promise<MimeBundle> {
  const emitted = themedSpec(spec);
  const svg = await vegaLiteSvg(emitted);
  const data: Record<string, unknown> = { [VEGALITE_MIME]: emitted, "image/svg+xml": svg };
  if (options.html !== false) data["text/html"] = htmlForSvg(svg);
  data["text/plain"] = options.alt ?? describe(emitted, svg);
  return mimeBundle(data);
}
