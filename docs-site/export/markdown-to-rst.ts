/**
 * Markdown (a notebook's prose) to reStructuredText, from markdown-it's token stream: headings,
 * paragraphs, emphasis, inline literals, links, lists, block quotes, code, tables, rules and raw
 * HTML. reST has no nested inline markup, so runs of text are first flattened (a literal inside
 * bold text ends the bold and starts again after it), then written with the separators docutils
 * needs where markup touches a word.
 */
import MarkdownIt, { type Token } from "markdown-it";
import { directive, escapeRstText, guardParagraphStart, indent, inlineLiteral, literalBlock, sectionTitle } from "./rst-text.js";

const markdown = new MarkdownIt({ html: true, linkify: false });

/** Rewrites a link target: the exporter points links to other notebooks at their exported pages. */
export type LinkRewriter = (href: string) => string;

export interface MarkdownToRstOptions {
  rewriteLink?: LinkRewriter;
  /** the section nesting so far, shared by all the notebook's cells (heading levels seen, outermost first) */
  sections?: number[];
}

type Style = "strong" | "em" | null;
type Run = { kind: "text"; text: string; style: Style } | { kind: "literal"; text: string } | { kind: "link"; text: string; href: string } | { kind: "break" };

function flatten(tokens: readonly Token[], rewriteLink: LinkRewriter): Run[] {
  const runs: Run[] = [];
  const styles: Style[] = [];
  let link: { href: string; text: string } | null = null;
  const style = (): Style => (styles.includes("strong") ? "strong" : styles.includes("em") ? "em" : null);
  for (const t of tokens) {
    switch (t.type) {
      case "text":
      case "html_inline":
      case "entity":
        if (link) link.text += t.content;
        else runs.push({ kind: "text", text: t.content, style: style() });
        break;
      case "code_inline":
        if (link) link.text += t.content;
        else runs.push({ kind: "literal", text: t.content });
        break;
      case "softbreak":
        if (link) link.text += " ";
        else runs.push({ kind: "text", text: "\n", style: null });
        break;
      case "hardbreak":
        if (link) link.text += " ";
        else runs.push({ kind: "break" });
        break;
      case "strong_open":
        styles.push("strong");
        break;
      case "em_open":
        styles.push("em");
        break;
      case "strong_close":
      case "em_close":
        styles.pop();
        break;
      case "link_open":
        link = { href: rewriteLink(String(t.attrGet("href") ?? "")), text: "" };
        break;
      case "link_close":
        if (link) runs.push(link.text.trim() === "" ? { kind: "text", text: link.href, style: style() } : { kind: "link", ...link });
        link = null;
        break;
      case "image": {
        // an inline image has no inline form in reST: it becomes a link to the image, named by its alt text
        const src = rewriteLink(String(t.attrGet("src") ?? ""));
        const alt = t.children?.map((c: Token) => c.content).join("") || src;
        if (link) link.text += alt;
        else runs.push({ kind: "link", text: alt, href: src });
        break;
      }
      default:
        throw new Error(`markdown to reST: no rendering for inline token ${t.type}`);
    }
  }
  return runs;
}

/** Characters that may stand right before inline markup starts, and right after it ends. */
const BEFORE = /[\s'"([{<\-/:‘“’«¡¿‐‑‒–— ]$/u;
const AFTER = /^[\s'")\]}>\-/:.,;!?\\‘“’»‐‑‒–— ]/u;

/** Writes runs as one reST paragraph's text. */
function writeRuns(runs: readonly Run[]): string {
  let out = "";
  let closedMarkup = false;
  const put = (piece: string, isMarkup: boolean) => {
    if (piece === "") return;
    if (isMarkup && out !== "" && !BEFORE.test(out)) out += "\\ ";
    else if (closedMarkup && !AFTER.test(piece)) out += "\\ ";
    out += piece;
    closedMarkup = isMarkup;
  };
  for (const run of runs) {
    if (run.kind === "break") {
      // a line break inside a paragraph has no plain reST form; a line block would split the paragraph
      put("\n", false);
    } else if (run.kind === "literal") {
      put(inlineLiteral(run.text), true);
    } else if (run.kind === "link") {
      const text = run.text.replace(/\s+/g, " ").trim().replace(/[\\`<>]/g, (c) => "\\" + c);
      // anonymous (`__`): two links with the same text and different targets are no conflict
      put(`\`${text} <${run.href.replace(/([\\<>`\s])/g, "\\$1")}>\`__`, true);
    } else if (run.style === null) {
      put(escapeRstText(run.text), false);
    } else {
      // markup cannot start or end with white space: that stays outside it
      const [, lead, body, trail] = /^(\s*)([\s\S]*?)(\s*)$/.exec(run.text)!;
      put(escapeRstText(lead!), false);
      if (body !== "") put(run.style === "strong" ? `**${escapeRstText(body!)}**` : `*${escapeRstText(body!)}*`, true);
      put(escapeRstText(trail!), false);
    }
  }
  return out
    .split("\n")
    .map((line) => line.trim())
    .join("\n")
    .trim();
}

export function inlineToRst(tokens: readonly Token[], rewriteLink: LinkRewriter = (h) => h): string {
  return writeRuns(flatten(tokens, rewriteLink));
}

/** The token index just past the close token matching tokens[open] (same nesting level). */
function closing(tokens: readonly Token[], open: number): number {
  const closeType = tokens[open]!.type.replace(/_open$/, "_close");
  for (let i = open + 1; i < tokens.length; i++) {
    if (tokens[i]!.type === closeType && tokens[i]!.level === tokens[open]!.level) return i;
  }
  throw new Error(`markdown to reST: ${tokens[open]!.type} without its ${closeType}`);
}

interface Block {
  text: string;
  /**
   * plain: ends at the margin; list, indented: ends indented (a list item's body, a literal
   * block, a directive), so a block quote right after would read as part of it; quote: starts
   * and ends indented
   */
  kind: "plain" | "list" | "indented" | "quote";
}

class Converter {
  constructor(
    private readonly rewriteLink: LinkRewriter,
    private readonly sections: number[],
  ) {}

  blocks(tokens: readonly Token[]): Block[] {
    const out: Block[] = [];
    let i = 0;
    while (i < tokens.length) {
      const t = tokens[i]!;
      if (t.type.endsWith("_open")) {
        const end = closing(tokens, i);
        out.push(...this.container(t, tokens.slice(i + 1, end)));
        i = end + 1;
        continue;
      }
      const leaf = this.leaf(t);
      if (leaf) out.push(leaf);
      i++;
    }
    return out;
  }

  private heading(level: number, inner: readonly Token[]): Block {
    // reST takes a title's depth from the order adornments appear in, so markdown's skipped levels (# then ###) close up
    while (this.sections.length > 0 && this.sections[this.sections.length - 1]! >= level) this.sections.pop();
    this.sections.push(level);
    const title = this.inline(inner).replace(/\n/g, " ");
    return { text: sectionTitle(title, this.sections.length), kind: "plain" };
  }

  private inline(tokens: readonly Token[]): string {
    return tokens.map((t) => (t.type === "inline" ? inlineToRst(t.children ?? [], this.rewriteLink) : "")).join("");
  }

  private container(open: Token, inner: readonly Token[]): Block[] {
    switch (open.type) {
      case "heading_open":
        return [this.heading(Number(open.tag.slice(1)), inner)];
      case "paragraph_open": {
        const text = this.inline(inner);
        return text === "" ? [] : [{ text: guardParagraphStart(text), kind: "plain" }];
      }
      case "bullet_list_open":
      case "ordered_list_open":
        return [{ text: this.list(open, inner), kind: "list" }];
      case "blockquote_open": {
        const body = join(this.blocks(inner));
        return body === "" ? [] : [{ text: indent(body, 4), kind: "quote" }];
      }
      case "table_open":
        return [{ text: this.table(inner), kind: "indented" }];
      default:
        throw new Error(`markdown to reST: no rendering for block ${open.type}`);
    }
  }

  private list(open: Token, inner: readonly Token[]): string {
    const ordered = open.type === "ordered_list_open";
    let n = ordered ? Number(open.attrGet("start") ?? 1) : 0;
    const items: string[] = [];
    for (let i = 0; i < inner.length; ) {
      const end = closing(inner, i);
      const marker = ordered ? `${n++}. ` : "- ";
      const body = join(this.blocks(inner.slice(i + 1, end))) || "\\";
      // the item's body lines up after its marker
      items.push(marker + indent(body, marker.length).slice(marker.length));
      i = end + 1;
    }
    return items.join("\n\n");
  }

  private table(inner: readonly Token[]): string {
    const rows: string[][] = [];
    let headerRows = 0;
    let row: string[] | null = null;
    let inHead = false;
    for (let i = 0; i < inner.length; i++) {
      const t = inner[i]!;
      if (t.type === "thead_open") inHead = true;
      else if (t.type === "thead_close") inHead = false;
      else if (t.type === "tr_open") row = [];
      else if (t.type === "tr_close") {
        rows.push(row!);
        if (inHead) headerRows++;
        row = null;
      } else if (t.type === "inline" && row) row.push(inlineToRst(t.children ?? [], this.rewriteLink).replace(/\n/g, " "));
    }
    const width = Math.max(...rows.map((r) => r.length));
    const body = rows
      .map((r) => {
        const cells = Array.from({ length: width }, (_, k) => r[k] ?? "");
        // an empty cell is an escaped nothing, so the item is not empty
        return cells.map((cell, k) => `${k === 0 ? "* - " : "  - "}${cell === "" ? "\\" : guardParagraphStart(cell)}`).join("\n");
      })
      .join("\n");
    return directive("list-table", "", headerRows > 0 ? { "header-rows": String(headerRows) } : {}, body);
  }

  private leaf(t: Token): Block | null {
    switch (t.type) {
      case "fence":
      case "code_block": {
        const block = literalBlock(t.content);
        return block ? { text: block, kind: "indented" } : null;
      }
      case "hr":
        // a transition; docutils rejects one that begins or ends a section, as the markdown would be odd there too
        return { text: "----", kind: "plain" };
      case "html_block":
        return { text: directive("raw", "html", {}, t.content.replace(/\n+$/, "")), kind: "indented" };
      case "inline":
        return { text: inlineToRst(t.children ?? [], this.rewriteLink), kind: "plain" };
      default:
        throw new Error(`markdown to reST: no rendering for block token ${t.type}`);
    }
  }
}

/**
 * Joins blocks with blank lines. Between an indented end and a block quote, an empty comment
 * (`..`) ends the first, so that the quote does not become part of it.
 */
export function join(blocks: readonly Block[]): string {
  let out = "";
  let previous: Block | null = null;
  for (const block of blocks) {
    if (previous) out += previous.kind !== "plain" && block.kind === "quote" ? "\n\n..\n\n" : "\n\n";
    out += block.text;
    previous = block;
  }
  return out;
}

export type { Block as RstBlock };

/** One markdown cell's source as reST blocks. */
export function markdownToRstBlocks(source: string, options: MarkdownToRstOptions = {}): Block[] {
  const converter = new Converter(options.rewriteLink ?? ((h) => h), options.sections ?? []);
  return converter.blocks(markdown.parse(source, {}));
}

export function markdownToRst(source: string, options: MarkdownToRstOptions = {}): string {
  return join(markdownToRstBlocks(source, options));
}
