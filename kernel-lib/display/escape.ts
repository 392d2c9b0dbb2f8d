/**
 * Escaping for text placed in HTML or SVG markup (element content and quoted
 * attribute values alike). Values shown by the helpers come from users and
 * from devices under test, so nothing is inserted unescaped.
 */
const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** Backslash-escape what Markdown (and Jupyter's $ maths) would read as syntax, inside a line or a table cell. */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/[\\`*_[\]<>|$~&#!]/g, (c) => "\\" + c)
    .replace(/\r?\n/g, "<br>");
}
