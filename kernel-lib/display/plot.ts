/**
 * Observable Plot charts rendered in Node.
 *
 * Plot needs a DOM document; linkedom provides one without a browser. The
 * result is one bundle: a standalone SVG (namespaced, stable ids, axes and text
 * in the theme's mid grey so it reads on light and dark pages), the chart as
 * HTML (there `currentColor` follows the notebook's text colour), and a line
 * of plain text.
 */
import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";
import { mimeBundle, type MimeBundle } from "./mime-bundle.js";
import { figureToSvg, type FigureNode } from "./plot-figure.js";
import { ensureXmlns, normalizeIds } from "./svg-ids.js";
import { INK, PALETTE } from "./theme.js";

export { Plot };

export interface PlotChartOptions {
  /** plain-text description; defaults to one naming the chart's title and size */
  alt?: string;
}

interface PlotElement extends FigureNode {
  scale(name: string): { type: string } | undefined;
}

let sharedDocument: Plot.PlotOptions["document"] | undefined;

/** One linkedom document serves every render; Plot only creates detached elements in it. */
function plotDocument(): NonNullable<Plot.PlotOptions["document"]> {
  sharedDocument ??= parseHTML("<!DOCTYPE html><html><head></head><body></body></html>").document as Plot.PlotOptions["document"];
  return sharedDocument!;
}

function wantsLegend(options: Plot.PlotOptions): boolean {
  const scaleLegend = (s: unknown) => typeof s === "object" && s !== null && Boolean((s as { legend?: unknown }).legend);
  return Boolean((options as { legend?: unknown }).legend) || scaleLegend(options.color) || scaleLegend(options.opacity) || scaleLegend(options.symbol);
}

function render(options: Plot.PlotOptions): PlotElement {
  try {
    return Plot.plot({ ...options, document: plotDocument() }) as unknown as PlotElement;
  } catch (e) {
    if (wantsLegend(options)) {
      throw new Error(
        `Plot failed to draw (${(e as Error).message}); continuous colour legends need a canvas, which Node lacks here: ` +
          "use a quantize or threshold colour scale, or set legend: false",
        { cause: e },
      );
    }
    throw e;
  }
}

/** Categorical colours default to the theme palette unless the caller chose a scheme or range. */
function themed(options: Plot.PlotOptions): PlotElement {
  const first = render(options);
  const color = (options.color ?? {}) as Record<string, unknown>;
  if ("scheme" in color || "range" in color || "interpolate" in color) return first;
  const type = first.scale("color")?.type;
  if (type !== "ordinal" && type !== "categorical") return first;
  return render({ ...options, color: { ...color, range: [...PALETTE] } as Plot.ScaleOptions });
}

/** Halos and tips paint with --plot-background; on a dark page a white one shows, so make it transparent. */
function clearBackground(markup: string): string {
  return markup.replace(/--plot-background:\s*white;/g, "--plot-background: transparent;");
}

/** "Plot chart: title (640×400)" from the root element's size and the title option. */
function describe(svg: string, options: Plot.PlotOptions): string {
  const root = /^<svg\b[^>]*>/.exec(svg)?.[0] ?? "";
  const w = /\swidth="([\d.]+)"/.exec(root)?.[1];
  const h = /\sheight="([\d.]+)"/.exec(root)?.[1];
  const title = typeof options.title === "string" ? `: ${options.title}` : "";
  return `Plot chart${title}${w && h ? ` (${w}×${h})` : ""}`;
}

/**
 * Render Plot options (marks, scales, title, legends) to an output bundle with
 * image/svg+xml, text/html and text/plain. Continuous colour legends are not
 * available (they need a canvas); use a quantize or threshold colour scale.
 *
 * @example plotChart({ marks: [Plot.barY(rows, { x: "state", y: "count" })] })
 */
export function plotChart(options: Plot.PlotOptions, chart: PlotChartOptions = {}): MimeBundle {
  const el = themed(options);
  const isSvg = el.tagName.toLowerCase() === "svg";
  const html = normalizeIds(clearBackground(el.outerHTML), "plot");
  const raw = clearBackground(isSvg ? el.outerHTML : figureToSvg(el));
  // a standalone SVG shown through <img> cannot inherit the page's text colour: fix currentColor to the theme's grey
  const svg = normalizeIds(ensureXmlns(raw.replace(/^<svg\b/, `<svg color="${INK}"`)), "plot");
  return mimeBundle({ "image/svg+xml": svg, "text/html": html, "text/plain": chart.alt ?? describe(svg, options) });
}
