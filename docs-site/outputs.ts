/**
 * A code cell's outputs as HTML, each shown as its richest representation: a checked claim with
 * its source; a Vega-Lite spec made interactive by vega-embed, over the static SVG that stays
 * when JavaScript is off; HTML and SVG inline; Markdown; text as preformatted blocks; and the
 * error a raises-exception cell was expected to raise.
 */
import type { Markdown } from "./markdown.js";
import { CLAIM_MIME, type ClaimRecord } from "../kernel-lib/display/claim.js";
import { escapeMarkup as escapeHtml } from "../kernel-lib/display/escape.js";
import { VEGALITE_MIME } from "../kernel-lib/display/vega-lite.js";
import type { Output } from "../kernel-lib/kernel/notebook.js";

type MimeData = Record<string, unknown>;

const text = (value: unknown): string => (Array.isArray(value) ? value.join("") : typeof value === "string" ? value : JSON.stringify(value));

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** What a page needs to know of the outputs it rendered. */
export interface RenderedOutputs {
  html: string;
  /** Vega-Lite specs to embed, by the id of their placeholder */
  vegaSpecs: Map<string, unknown>;
}

/** The figure's text alternative: the helpers put what a chart shows in its text/plain. */
function altOf(data: MimeData): string {
  return text(data["text/plain"] ?? "").trim() || "a figure";
}

function figure(inner: string, alt: string, cls: string): string {
  // the alternative is both the accessible name and, collapsed, a caption a reader can open
  const label = escapeHtml(alt);
  return `<figure class="output ${cls}"><div class="figure-body" role="img" aria-label="${label}">${inner}</div><details class="figure-alt"><summary>Text description</summary><pre>${label}</pre></details></figure>`;
}

export class OutputRenderer {
  private vegaCount = 0;

  constructor(
    private readonly md: Markdown,
    /** used in ids, so two pages' charts never collide when a page includes another's */
    private readonly pageSlug: string,
  ) {}

  render(outputs: readonly Output[]): RenderedOutputs {
    const vegaSpecs = new Map<string, unknown>();
    const parts = outputs.map((output) => this.one(output, vegaSpecs));
    return { html: parts.join("\n"), vegaSpecs };
  }

  private one(output: Output, vegaSpecs: Map<string, unknown>): string {
    if (output.output_type === "stream") {
      return `<pre class="output stream stream-${output.name}">${escapeHtml(text(output.text))}</pre>`;
    }
    if (output.output_type === "error") {
      const traceback = (output.traceback ?? []).map((line) => line.replace(ANSI, "")).join("\n");
      return (
        `<div class="output error" role="note" aria-label="the error this cell raises"><p><strong>${escapeHtml(output.ename)}</strong>: ${escapeHtml(output.evalue)}</p>` +
        (traceback && traceback !== `${output.ename}: ${output.evalue}` ? `<pre>${escapeHtml(traceback)}</pre>` : "") +
        `</div>`
      );
    }
    const data = (output.data ?? {}) as MimeData;
    if (data[CLAIM_MIME]) return this.claim(data[CLAIM_MIME] as ClaimRecord);
    if (data[VEGALITE_MIME] && data["image/svg+xml"]) {
      const id = `vl-${this.pageSlug}-${++this.vegaCount}`;
      vegaSpecs.set(id, data[VEGALITE_MIME]);
      return figure(`<div class="vega-live" id="${id}" hidden></div><div class="vega-static">${text(data["image/svg+xml"])}</div>`, altOf(data), "chart vega");
    }
    if (data["text/html"]) {
      const html = text(data["text/html"]);
      // a chart (Plot's figure) gets a text alternative; a table or a claim speaks for itself
      return /<svg[\s>]/.test(html) ? figure(html, altOf(data), "chart") : `<div class="output html">${html}</div>`;
    }
    if (data["image/svg+xml"]) return figure(text(data["image/svg+xml"]), altOf(data), "chart");
    if (data["text/markdown"]) return `<div class="output markdown">${this.md.render(text(data["text/markdown"]))}</div>`;
    if (data["text/plain"] !== undefined) return `<pre class="output text">${escapeHtml(text(data["text/plain"]))}</pre>`;
    return "";
  }

  private claim(record: ClaimRecord): string {
    const where = record.model ? (record.source ? `model: ${record.source}` : "the emulator's model") : (record.source ?? "");
    return (
      `<div class="output claim${record.model ? " claim-model" : ""}">` +
      `<span class="claim-mark" aria-hidden="true">✔</span> <span class="sr-only">Checked:</span> ` +
      `<span class="claim-text">${escapeHtml(record.claim)}</span> <cite class="claim-source">${escapeHtml(where)}</cite></div>`
    );
  }
}
