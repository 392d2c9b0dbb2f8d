/**
 * A notebook output with several representations of one thing, as Jupyter's
 * display_data carries it: e.g. a Vega-Lite spec for JupyterLab, an SVG for
 * viewers without Vega, and HTML for nbconvert. Display helpers return these;
 * the kernel recognises them (by the symbol below) as a cell's value or in display().
 */
export const MIME_BUNDLE = Symbol.for("vfio-workbench.mime-bundle");

export interface MimeBundle {
  readonly [MIME_BUNDLE]: true;
  /** mime type -> content (strings, or JSON objects for +json types) */
  readonly data: Readonly<Record<string, unknown>>;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export function mimeBundle(data: Record<string, unknown>, metadata: Record<string, unknown> = {}): MimeBundle {
  if (!("text/plain" in data)) throw new Error("a mime bundle needs a text/plain representation for plain-text front ends");
  return { [MIME_BUNDLE]: true, data, metadata };
}

export function isMimeBundle(value: unknown): value is MimeBundle {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MIME_BUNDLE] === true;
}
