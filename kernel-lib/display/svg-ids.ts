/**
 * Stable ids for rendered SVG and HTML.
 *
 * Plot numbers its clip paths and Vega its clips and gradients from counters
 * that live as long as the process, so the same chart rendered twice gets
 * different ids. Here every id defined in the markup is renamed, in order of
 * first appearance, to `<prefix>-<n>`, and every reference to it (url(#id),
 * href="#id") follows. The prefix is a hash of the counter-free markup: two
 * renders of one chart are byte-identical, while different charts inlined in
 * one page still get distinct ids.
 */
import { sha256Hex } from "../../hw-emu/sim/digest.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const XLINK_NS = "http://www.w3.org/1999/xlink";

/** Rename ids with a placeholder prefix; returns the markup and how many ids it defined. */
function renumber(markup: string, prefix: string): { markup: string; count: number } {
  const names = new Map<string, string>();
  for (const m of markup.matchAll(/\sid="([^"]+)"/g)) {
    if (!names.has(m[1]!)) names.set(m[1]!, `${prefix}-${names.size}`);
  }
  if (names.size === 0) return { markup, count: 0 };
  const rename = (id: string): string | undefined => names.get(id);
  const out = markup
    .replace(/(\sid=")([^"]+)(")/g, (all, a: string, id: string, b: string) => {
      const n = rename(id);
      return n === undefined ? all : a + n + b;
    })
    .replace(/url\((['"]?)#([^'")]+)\1\)/g, (all, q: string, id: string) => {
      const n = rename(id);
      return n === undefined ? all : `url(${q}#${n}${q})`;
    })
    .replace(/(\s(?:xlink:)?href=")#([^"]+)(")/g, (all, a: string, id: string, b: string) => {
      const n = rename(id);
      return n === undefined ? all : `${a}#${n}${b}`;
    });
  return { markup: out, count: names.size };
}

/**
 * Replace process-dependent ids with content-derived ones. `namespace` keeps
 * kinds of output apart (e.g. "plot", "vl") so their ids never look alike.
 */
export function normalizeIds(markup: string, namespace = "vw"): string {
  const first = renumber(markup, "\u0000");
  if (first.count === 0) return markup;
  const hash = sha256Hex(first.markup).slice(0, 10);
  return renumber(markup, `${namespace}-${hash}`).markup;
}

/** Add the SVG (and, if used, XLink) namespace declarations to the root element of standalone SVG text. */
export function ensureXmlns(svg: string): string {
  const m = /^(\s*(?:<\?xml[^>]*\?>\s*)?)<svg\b([^>]*)>/.exec(svg);
  if (!m) throw new Error("expected markup whose root element is <svg>");
  let attrs = m[2]!;
  if (!/\sxmlns="/.test(attrs)) attrs = ` xmlns="${SVG_NS}"` + attrs;
  if (/\sxlink:/.test(svg) && !/\sxmlns:xlink="/.test(attrs)) attrs = ` xmlns:xlink="${XLINK_NS}"` + attrs;
  return m[1] + "<svg" + attrs + ">" + svg.slice(m[0].length);
}

/** Standalone SVG text: namespaces declared and ids stable. */
export function finishSvg(svg: string, namespace = "vw"): string {
  return normalizeIds(ensureXmlns(svg), namespace);
}
