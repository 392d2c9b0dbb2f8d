/**
 * Tables as HTML, Markdown and aligned plain text in one bundle. Every cell is
 * escaped for the medium: values come from devices under test and users.
 */
import { escapeMarkdown, escapeMarkup } from "./escape.js";
import { mimeBundle, type MimeBundle } from "./mime-bundle.js";

export type TableRow = Readonly<Record<string, unknown>>;

export interface TableColumn {
  /** property of each row */
  key: string;
  /** heading; defaults to the key */
  label?: string;
  /** defaults to right for columns holding only numbers, else left */
  align?: "left" | "right" | "center";
  /** cell text; defaults to a plain rendering (numbers, bigints, hex for byte arrays) */
  format?: (value: unknown, row: TableRow) => string;
}

export interface TableOptions {
  /** which columns, in order; defaults to every key, in order of first appearance */
  columns?: readonly (string | TableColumn)[];
  caption?: string;
}

/** Plain text for a cell value. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (value instanceof Uint8Array) return Array.from(value, (b) => b.toString(16).padStart(2, "0")).join(" ");
  if (Array.isArray(value)) return value.map(cellText).join(", ");
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value);
}

interface ResolvedColumn {
  key: string;
  label: string;
  align: "left" | "right" | "center";
  cells: string[];
}

function resolve(rows: readonly TableRow[], options: TableOptions): ResolvedColumn[] {
  const specs: TableColumn[] = options.columns
    ? options.columns.map((c) => (typeof c === "string" ? { key: c } : c))
    : [...new Set(rows.flatMap((r) => Object.keys(r)))].map((key) => ({ key }));
  if (specs.length === 0) throw new Error("a table needs at least one column: pass rows with properties or options.columns");
  return specs.map((c) => {
    const values = rows.map((r) => r[c.key]);
    const numeric = values.some((v) => v !== null && v !== undefined) && values.every((v) => v === null || v === undefined || typeof v === "number" || typeof v === "bigint");
    return {
      key: c.key,
      label: c.label ?? c.key,
      align: c.align ?? (numeric ? "right" : "left"),
      cells: rows.map((r) => (c.format ? c.format(r[c.key], r) : cellText(r[c.key]))),
    };
  });
}

function oneLine(s: string): string {
  return s.replace(/\r?\n/g, " ");
}

function width(s: string): number {
  return [...s].length;
}

function pad(s: string, w: number, align: ResolvedColumn["align"]): string {
  const gap = w - width(s);
  if (align === "right") return " ".repeat(gap) + s;
  if (align === "center") return " ".repeat(Math.floor(gap / 2)) + s + " ".repeat(Math.ceil(gap / 2));
  return s + " ".repeat(gap);
}

function renderText(cols: ResolvedColumn[], rowCount: number, caption?: string): string {
  const widths = cols.map((c) => Math.max(width(oneLine(c.label)), ...c.cells.map((s) => width(oneLine(s)))));
  const line = (cells: string[]) =>
    cells
      .map((s, i) => pad(oneLine(s), widths[i]!, cols[i]!.align))
      .join("  ")
      .trimEnd();
  const out: string[] = [];
  if (caption) out.push(oneLine(caption));
  out.push(line(cols.map((c) => c.label)), widths.map((w) => "-".repeat(w)).join("  "));
  for (let r = 0; r < rowCount; r++) out.push(line(cols.map((c) => c.cells[r]!)));
  return out.join("\n");
}


function renderMarkdown(cols: ResolvedColumn[], rowCount: number, caption?: string): string {
  const rule = { left: ":---", right: "---:", center: ":---:" } as const;
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const out: string[] = [];
  if (caption) out.push(`*${escapeMarkdown(caption)}*`, "");
  out.push(line(cols.map((c) => escapeMarkdown(c.label))), line(cols.map((c) => rule[c.align])));
  for (let r = 0; r < rowCount; r++) out.push(line(cols.map((c) => escapeMarkdown(c.cells[r]!))));
  return out.join("\n");
}

function renderHtml(cols: ResolvedColumn[], rowCount: number, caption?: string): string {
  const cell = (tag: "th" | "td", text: string, align: string, extra: string) =>
    `<${tag} style="text-align:${align};padding:3px 10px;${extra}">${escapeMarkup(text).replace(/\r?\n/g, "<br>")}</${tag}>`;
  const head = cols.map((c) => cell("th", c.label, c.align, "border-bottom:1px solid rgba(128,128,128,0.6)")).join("");
  const body: string[] = [];
  for (let r = 0; r < rowCount; r++) {
    body.push(`<tr>${cols.map((c) => cell("td", c.cells[r]!, c.align, "border-bottom:1px solid rgba(128,128,128,0.2)")).join("")}</tr>`);
  }
  const cap = caption ? `<caption style="caption-side:top;text-align:left;font-weight:bold;padding-bottom:4px">${escapeMarkup(caption)}</caption>` : "";
  return (
    `<table style="border-collapse:collapse;font-variant-numeric:tabular-nums;color:inherit">` +
    `${cap}<thead><tr>${head}</tr></thead><tbody>${body.join("")}</tbody></table>`
  );
}

/** Aligned plain text of rows, as table() renders its text/plain. */
export function tableText(rows: readonly TableRow[], options: TableOptions = {}): string {
  return renderText(resolve(rows, options), rows.length, options.caption);
}

/**
 * A table as text/html, text/markdown and text/plain.
 *
 * @example table([{ state: "RUNNING", value: 2 }, { state: "STOP", value: 1 }], { caption: "states" })
 */
export function table(rows: readonly TableRow[], options: TableOptions = {}): MimeBundle {
  const cols = resolve(rows, options);
  return mimeBundle({
    "text/html": renderHtml(cols, rows.length, options.caption),
    "text/markdown": renderMarkdown(cols, rows.length, options.caption),
    "text/plain": renderText(cols, rows.length, options.caption),
  });
}
