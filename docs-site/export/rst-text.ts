/**
 * The pieces of reStructuredText the exporter writes, each in the one form docutils reads
 * without a warning: escaped text, inline literals, section titles in the kernel's adornment
 * order (Documentation/doc-guide/sphinx.rst), literal blocks and directives.
 */

/**
 * Characters that open or close inline markup, or a reference, in running text. An underscore
 * inside a name (VFIO_DEVICE_FEATURE) is plain text to docutils; one that ends a word makes a
 * reference (name_, name__), so only those are escaped.
 */
const INLINE_SYNTAX = /[\\`*|]|_(?![A-Za-z0-9])/g;

export function escapeRstText(text: string): string {
  return text.replace(INLINE_SYNTAX, (c) => "\\" + c);
}

/**
 * A paragraph whose first line looks like the start of another body element (a list item,
 * an enumerator, a directive, a field, an option, a table border or a section adornment)
 * becomes one when written as is; a leading backslash keeps it a paragraph.
 */
export function guardParagraphStart(text: string): string {
  const first = text.split("\n", 1)[0]!;
  const looksLikeBlock =
    /^([-+*•‣⁃]|#\.|\d+[.)]|\(?[a-zA-Z#][.)]|\(?[ivxlcdmIVXLCDM]+[.)]|\(\d+\))(\s|$)/.test(first) ||
    /^\.\.(\s|$)/.test(first) ||
    /^:[^:\s][^:]*:(\s|$)/.test(first) ||
    /^(-{1,2}|\/)\w/.test(first) ||
    /^([!-/:-@[-`{-~])\1{3,}\s*$/.test(first) ||
    /^>>>/.test(first) ||
    /^\|(\s|$)/.test(first);
  return looksLikeBlock ? "\\" + text : text;
}

/** An inline literal: ``text``. Literals cannot start or end with a space, nor hold a line break. */
export function inlineLiteral(code: string): string {
  const text = code.replace(/\s+/g, " ").trim();
  if (text === "") return "";
  // a literal's content ends at the first `` that is followed by a delimiter; none of ours holds ``
  if (text.includes("``")) return `:literal:\`${text.replace(/[\\`]/g, (c) => "\\" + c)}\``;
  return `\`\`${text}\`\``;
}

/** Section adornments, outermost first: = over and under, then =, -, ~, ^, " under. */
const ADORNMENTS: ReadonlyArray<{ char: string; overline: boolean }> = [
  { char: "=", overline: true },
  { char: "=", overline: false },
  { char: "-", overline: false },
  { char: "~", overline: false },
  { char: "^", overline: false },
  { char: '"', overline: false },
];

/** Columns a title occupies in a fixed-width font: east-asian wide characters take two. */
function columns(text: string): number {
  let n = 0;
  for (const ch of text) n += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(ch) ? 2 : 1;
  return n;
}

/** A section title at `depth` (1 is the document title). */
export function sectionTitle(title: string, depth: number): string {
  const style = ADORNMENTS[Math.min(depth, ADORNMENTS.length) - 1]!;
  const line = style.char.repeat(Math.max(columns(title), 1));
  return style.overline ? `${line}\n${title}\n${line}` : `${title}\n${line}`;
}

/** Indents every non-empty line. */
export function indent(text: string, by: number | string): string {
  const pad = typeof by === "number" ? " ".repeat(by) : by;
  return text
    .split("\n")
    .map((line) => (line.trim() === "" ? "" : pad + line))
    .join("\n");
}

/** A literal block in its expanded form (a lone `::` paragraph, which renders as nothing). */
export function literalBlock(text: string): string | null {
  const body = text
    .replace(/\r\n?/g, "\n")
    .replace(/\t/g, "        ")
    .split("\n")
    .map((line) => line.replace(/\s+$/, ""))
    .join("\n")
    .replace(/^\n+|\n+$/g, "");
  if (body.trim() === "") return null;
  return `::\n\n${indent(body, 4)}`;
}

/** A directive with its options and an indented body. */
export function directive(name: string, argument: string, options: Readonly<Record<string, string>> = {}, body = ""): string {
  const head = `.. ${name}::${argument ? " " + argument : ""}`;
  const opts = Object.entries(options).map(([key, value]) => `   :${key}: ${value.replace(/\s+/g, " ").trim()}`);
  return [head, ...opts, ...(body ? ["", indent(body, 3)] : [])].join("\n");
}

/** Removes the terminal colour and cursor sequences a traceback carries. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, "");
}
