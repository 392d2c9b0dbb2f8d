/**
 * Markdown as the site renders it: markdown-it with heading anchors, admonitions
 * (`::: note`, `::: warning`, `::: tip`), tables, code highlighted by highlight.js, and links
 * between notebooks (`04-dirty-tracking.ipynb#heading`) turned into links between pages.
 */
import hljs from "highlight.js/lib/common";
import MarkdownIt from "markdown-it";
import anchor from "markdown-it-anchor";
import container from "markdown-it-container";
import { escapeMarkup as escapeHtml } from "../kernel-lib/display/escape.js";

/** The anchor of a heading: lower case, words joined by hyphens (the same for every page and for the TOC). */
export function slugify(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/<[^>]*>/g, "")
      .replace(/[^\p{L}\p{N}_\s-]/gu, "")
      .trim()
      .replace(/\s+/g, "-") || "section"
  );
}

/** Code highlighted with highlight.js, or escaped when the language is unknown. */
export function highlight(code: string, language: string): string {
  const lang = language === "ts" ? "typescript" : language;
  if (lang && hljs.getLanguage(lang)) return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
  return escapeHtml(code);
}

const ADMONITIONS = ["note", "warning", "tip"] as const;

/** A notebook link as a page link: "x.ipynb#h" → "x.html#h"; other links unchanged. */
export function pageHref(href: string): string {
  const m = /^(?:\.\/)?([\w.-]+)\.ipynb(#.*)?$/.exec(href);
  return m ? `${m[1]}.html${m[2] ?? ""}` : href;
}

/** The markdown-it instance type (its typings export the constructor as the default). */
export type Markdown = InstanceType<typeof MarkdownIt>;

export function createMarkdown(): Markdown {
  const md = new MarkdownIt({
    html: true,
    linkify: false,
    typographer: false,
    highlight: (code, language) => `<pre class="code"><code class="hljs language-${escapeHtml(language || "text")}">${highlight(code, language)}</code></pre>`,
  });
  md.use(anchor, { slugify, tabIndex: false, failOnNonUnique: false, permalink: anchor.permalink.headerLink({ safariReaderFix: true }) });
  for (const kind of ADMONITIONS) {
    md.use(container, kind, {
      render: (tokens: { nesting: number; info: string }[], idx: number) => {
        const token = tokens[idx]!;
        if (token.nesting !== 1) return "</div>\n";
        const title = token.info.trim().slice(kind.length).trim() || kind[0]!.toUpperCase() + kind.slice(1);
        return `<div class="admonition admonition-${kind}" role="note"><p class="admonition-title">${escapeHtml(title)}</p>\n`;
      },
    });
  }
  const defaultLink = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    const token = tokens[idx]!;
    const href = token.attrGet("href");
    if (typeof href === "string") token.attrSet("href", pageHref(href));
    return defaultLink(tokens, idx, options, env, self);
  };
  // tables scroll on narrow screens instead of widening the page
  md.renderer.rules.table_open = () => '<div class="table-wrap"><table>\n';
  md.renderer.rules.table_close = () => "</table></div>\n";
  return md;
}
