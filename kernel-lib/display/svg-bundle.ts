/**
 * The output bundle for a picture: standalone SVG, the same SVG inline as HTML
 * (nbconvert's HTML export drops image/svg+xml but keeps text/html), and a
 * plain-text description for terminals and logs.
 */
import { mimeBundle, type MimeBundle } from "./mime-bundle.js";

export function htmlForSvg(svg: string): string {
  return `<div style="max-width:100%;overflow-x:auto">${svg}</div>`;
}

export function svgBundle(svg: string, text: string, extra: Record<string, unknown> = {}): MimeBundle {
  return mimeBundle({ "image/svg+xml": svg, "text/html": htmlForSvg(svg), ...extra, "text/plain": text });
}
