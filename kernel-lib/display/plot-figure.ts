/**
 * One standalone SVG for a Plot figure.
 *
 * With a title, subtitle, caption or swatch legend Plot returns an HTML
 * <figure> holding headings, legend <div>s and one or more <svg>s. An
 * image/svg+xml output needs a single SVG, so the figure's parts are stacked
 * vertically: headings and captions become <text>, swatches become small
 * nested SVGs with labels, and every SVG child is nested as it is.
 */
import { escapeMarkup } from "./escape.js";
import { FONT_SANS } from "./theme.js";

/** The little of the DOM this module reads (linkedom elements provide it). */
export interface FigureNode {
  readonly tagName: string;
  readonly children: ArrayLike<FigureNode>;
  readonly textContent: string | null;
  readonly outerHTML: string;
  getAttribute(name: string): string | null;
}

const SWATCH_SIZE = 15;

/** Approximate advance of `text` at `fontSize`; there is no font engine in Node. */
function textWidth(text: string, fontSize: number): number {
  return Math.ceil([...text].length * fontSize * 0.6);
}

function numberAttr(el: FigureNode, name: string): number {
  const v = Number(el.getAttribute(name));
  if (!Number.isFinite(v) || v <= 0) throw new Error(`Plot produced an <svg> without a usable ${name}`);
  return v;
}

/** Nest an <svg> element at (x, y) by adding position attributes to its start tag. */
function nestSvg(el: FigureNode, x: number, y: number): string {
  return el.outerHTML.replace(/^<svg\b/, `<svg x="${x}" y="${y}"`);
}

function text(x: number, y: number, content: string, fontSize: number, bold = false): string {
  const weight = bold ? ' font-weight="bold"' : "";
  return `<text x="${x}" y="${y}" font-size="${fontSize}"${weight}>${escapeMarkup(content)}</text>`;
}

/** Lay out swatches (each a small <svg> followed by its label) left to right, wrapping at `width`. */
function swatches(div: FigureNode, top: number, width: number): { parts: string[]; height: number } {
  const parts: string[] = [];
  let x = 0;
  let y = top;
  const lineHeight = SWATCH_SIZE + 8;
  for (const span of Array.from(div.children)) {
    if (span.tagName.toLowerCase() === "style") continue;
    const svg = Array.from(span.children).find((c) => c.tagName.toLowerCase() === "svg");
    // the swatch's <svg> holds only a shape, so the item's text is its label
    const label = (span.textContent ?? "").trim();
    const advance = SWATCH_SIZE + 5 + textWidth(label, 10) + 14;
    if (x > 0 && x + advance > width) {
      x = 0;
      y += lineHeight;
    }
    if (svg) parts.push(nestSvg(svg, x, y));
    parts.push(text(x + SWATCH_SIZE + 5, y + 11, label, 10));
    x += advance;
  }
  return { parts, height: y - top + lineHeight };
}

/** Compose a Plot <figure> into one SVG document (without namespace declarations). */
export function figureToSvg(figure: FigureNode): string {
  const children = Array.from(figure.children);
  const svgs = children.filter((c) => c.tagName.toLowerCase() === "svg");
  if (svgs.length === 0) throw new Error("Plot returned a figure without any <svg>");
  const width = Math.max(...svgs.map((s) => numberAttr(s, "width")));
  const parts: string[] = [];
  let y = 0;
  for (const child of children) {
    switch (child.tagName.toLowerCase()) {
      case "h2":
        parts.push(text(0, y + 17, child.textContent ?? "", 16, true));
        y += 26;
        break;
      case "h3":
        parts.push(text(0, y + 13, child.textContent ?? "", 12));
        y += 20;
        break;
      case "figcaption":
        y += 4;
        parts.push(text(0, y + 12, child.textContent ?? "", 11));
        y += 18;
        break;
      case "svg":
        parts.push(nestSvg(child, 0, y));
        y += numberAttr(child, "height");
        break;
      case "div": {
        const s = swatches(child, y, width);
        parts.push(...s.parts);
        y += s.height + 4;
        break;
      }
      default:
        throw new Error(`Plot figure has a <${child.tagName.toLowerCase()}> that cannot be drawn as SVG`);
    }
  }
  const height = Math.ceil(y);
  return (
    `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${escapeMarkup(FONT_SANS)}" ` +
    `fill="currentColor">${parts.join("")}</svg>`
  );
}
