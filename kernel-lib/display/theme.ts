/**
 * Colours shared by every display helper.
 *
 * Notebook outputs are seen on white (JupyterLab light, the docs site) and on
 * near-black (JupyterLab dark, #111) backgrounds, and a standalone SVG shown
 * through an <img> cannot inherit the page's text colour. So every colour here
 * sits in the middle of the luminance range: each palette colour keeps at least
 * 3:1 contrast (the WCAG figure for graphics) against both white and #111, and
 * white text on it keeps about 4.4:1, so filled boxes can carry white labels.
 * INK is the grey with the best contrast against both backgrounds at once.
 */

/** Text, axes and outlines drawn over an unknown background. */
export const INK = "#787878";

/** Text drawn on a palette-coloured fill. */
export const ON_FILL = "#ffffff";

/**
 * Categorical palette: blue, orange, green, red, purple, teal, brown, magenta, then
 * olive, rose, petrol and slate, so up to twelve categories get their own colour
 * (the last four were picked as far as possible, in CIEDE2000, from the first eight
 * within the luminance band above).
 */
export const PALETTE: readonly string[] = [
  "#3a6fc4",
  "#c25a00",
  "#2e8540",
  "#c73a3a",
  "#8a56c2",
  "#1f8080",
  "#9a6324",
  "#b8408f",
  "#666600",
  "#904e5a",
  "#066c8a",
  "#60608a",
];

/** Accent for a highlighted path or selection. */
export const ACCENT = PALETTE[1]!;

/** Low-to-high ramp for heat maps (blue, purple, red, orange), interpolated in HCL so luminance stays mid-range. */
export const HEAT_RANGE: readonly string[] = ["#3a6fc4", "#8a56c2", "#c73a3a", "#c25a00"];

export const FONT_SANS = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
export const FONT_MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace";

function channel(c: number): number {
  const s = c / 255;
  return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
}

/** WCAG relative luminance of a #rrggbb colour. */
export function relativeLuminance(hex: string): number {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m) throw new Error(`expected a #rrggbb colour, got ${hex}`);
  const n = parseInt(m[1]!, 16);
  return 0.2126 * channel(n >> 16) + 0.7152 * channel((n >> 8) & 0xff) + 0.0722 * channel(n & 0xff);
}

/** WCAG contrast ratio between two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** A palette colour with an alpha channel, for tints that blend with whatever lies beneath. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 0xff}, ${n & 0xff}, ${alpha})`;
}

/** The palette colour for the i-th category, cycling. */
export function paletteColor(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}

/** The theme's colours, for charts a notebook builds itself (e.g. `fill: displayTheme.palette[0]`). */
export const displayTheme = {
  ink: INK,
  onFill: ON_FILL,
  accent: ACCENT,
  palette: PALETTE,
  heatRange: HEAT_RANGE,
} as const;
