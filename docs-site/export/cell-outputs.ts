/**
 * What an executed code cell shows, reduced to what a text document can hold: text, a figure
 * (an SVG, or a PNG, written beside the document), a checked claim, an error, or HTML for the
 * outputs that have nothing else. Each output picks its richest representation of those.
 */
import { CLAIM_MIME, type ClaimRecord } from "../../kernel-lib/display/claim.js";
import { VEGALITE_MIME, vegaLiteSvg, type VegaLiteSpec } from "../../kernel-lib/display/vega-lite.js";
import { joinSource, type Output } from "../../kernel-lib/kernel/notebook.js";
import { stripAnsi } from "./rst-text.js";

export type OutputPart =
  | { kind: "text"; text: string }
  | { kind: "figure"; format: "svg" | "png"; content: string | Buffer; alt: string }
  | { kind: "claim"; claim: string; source: string | null; model: boolean }
  | { kind: "error"; text: string }
  | { kind: "html"; html: string };

function text(value: unknown): string {
  return joinSource(value as string | string[]);
}

/**
 * One line saying what a figure shows, for its alt text: the SVG's own aria-label or title when
 * it has one, else the first line of the bundle's text/plain (whose later lines may be a whole
 * text rendering of the figure).
 */
function altText(data: Record<string, unknown>, svg: string | null, fallback: string): string {
  const root = svg === null ? "" : (/<svg\b[^>]*>/.exec(svg)?.[0] ?? "");
  const label = /\saria-label="([^"]*)"/.exec(root)?.[1] ?? (svg === null ? undefined : /^<svg\b[^>]*>\s*<title[^>]*>([^<]*)<\/title>/.exec(svg)?.[1]);
  if (label !== undefined && label.trim() !== "") return unescapeXml(label).replace(/\s+/g, " ").trim();
  const plain = data["text/plain"] === undefined ? "" : text(data["text/plain"]).split("\n").find((line) => line.trim() !== "");
  return plain?.replace(/\s+/g, " ").trim() || fallback;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" };
    if (e[0] !== "#") return named[e.toLowerCase()]!;
    return String.fromCodePoint(e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

async function bundlePart(data: Record<string, unknown>): Promise<OutputPart | null> {
  const claim = data[CLAIM_MIME] as ClaimRecord | undefined;
  if (claim && typeof claim.claim === "string") return { kind: "claim", claim: claim.claim, source: claim.source, model: claim.model };
  if (data["image/svg+xml"] !== undefined) {
    const svg = text(data["image/svg+xml"]);
    return { kind: "figure", format: "svg", content: svg, alt: altText(data, svg, "a figure") };
  }
  if (data[VEGALITE_MIME] !== undefined) {
    // a spec without its static rendering: render it here, as the kernel's own helper does
    const svg = await vegaLiteSvg(data[VEGALITE_MIME] as VegaLiteSpec);
    return { kind: "figure", format: "svg", content: svg, alt: altText(data, svg, "a Vega-Lite chart") };
  }
  if (data["image/png"] !== undefined) {
    return { kind: "figure", format: "png", content: Buffer.from(text(data["image/png"]).replace(/\s+/g, ""), "base64"), alt: altText(data, null, "a figure") };
  }
  if (data["text/plain"] !== undefined) {
    const t = text(data["text/plain"]);
    return t.trim() === "" ? null : { kind: "text", text: t };
  }
  if (data["text/html"] !== undefined) return { kind: "html", html: text(data["text/html"]) };
  return null;
}

/** The parts a cell's outputs show, in order; consecutive stream text runs together. */
export async function outputParts(outputs: readonly Output[]): Promise<OutputPart[]> {
  const parts: OutputPart[] = [];
  for (const output of outputs) {
    let part: OutputPart | null;
    if (output.output_type === "stream") {
      const t = stripAnsi(text(output.text));
      const last = parts[parts.length - 1];
      if (last?.kind === "text") {
        last.text += t;
        continue;
      }
      part = t.trim() === "" ? null : { kind: "text", text: t };
    } else if (output.output_type === "error") {
      const trace = output.traceback.length > 0 ? output.traceback.map(stripAnsi).join("\n") : `${output.ename}: ${output.evalue}`;
      part = { kind: "error", text: trace };
    } else {
      part = await bundlePart(output.data);
    }
    if (part) parts.push(part);
  }
  return parts;
}
