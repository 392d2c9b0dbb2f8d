/**
 * A byte map as SVG: rows of byte cells under their field names, and a legend
 * with each part's decoded value to the right. Field cells are filled with a
 * palette colour and carry white hex digits; everything else is in the
 * theme's grey, so the picture reads on light and dark backgrounds.
 */
import { type ByteMapModel, type ByteMapPart, hexByte, rowOffsetLabel, rows } from "./byte-map-model.js";
import { escapeMarkup } from "./escape.js";
import { FONT_MONO, INK, ON_FILL, paletteColor } from "./theme.js";

const CELL_W = 28;
const CELL_H = 20;
const GAP = 2;
const LABEL_H = 14;
const ROW_H = LABEL_H + CELL_H + 8;
const OFFSET_W = 52;
const TOP = 30;
/** advance of one character of the 11px monospace font */
const CHAR_W = 6.7;

function fill(part: ByteMapPart): string {
  return part.kind === "field" ? paletteColor(part.fieldIndex) : INK;
}

function clip(text: string, width: number): string {
  const max = Math.max(1, Math.floor(width / 6.1));
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max - 1).join("") + "…";
}

function cell(part: ByteMapPart, x: number, y: number, byte: number): string {
  const pad = part.kind === "padding";
  const rect = pad
    ? `<rect x="${x}" y="${y}" width="${CELL_W}" height="${CELL_H}" rx="2" fill="none" stroke="${INK}" stroke-dasharray="3 2"/>`
    : `<rect x="${x}" y="${y}" width="${CELL_W}" height="${CELL_H}" rx="2" fill="${fill(part)}"/>`;
  const ink = pad ? INK : ON_FILL;
  return `${rect}<text x="${x + CELL_W / 2}" y="${y + 14}" text-anchor="middle" fill="${ink}">${hexByte(byte)}</text>`;
}

export function byteMapSvg(model: ByteMapModel, perRow: number): string {
  const parts: string[] = [];
  const grid = rows(model, perRow);
  grid.forEach((row, r) => {
    const top = TOP + r * ROW_H;
    parts.push(`<text x="0" y="${top + LABEL_H + 14}" fill="${INK}">${rowOffsetLabel(row)}</text>`);
    for (const seg of row) {
      const x0 = OFFSET_W + seg.column * (CELL_W + GAP);
      const span = seg.bytes.byteLength * (CELL_W + GAP) - GAP;
      const name = seg.first ? seg.part.name : `…${seg.part.name}`;
      parts.push(
        `<g class="part ${seg.part.kind}" data-field="${escapeMarkup(seg.part.name)}">` +
          `<title>${escapeMarkup(`${seg.part.name} = ${seg.part.value}${seg.part.meaning ? ` (${seg.part.meaning})` : ""}`)}</title>` +
          `<text x="${x0 + 1}" y="${top + 10}" font-size="10" fill="${INK}">${escapeMarkup(clip(name, span))}</text>` +
          `<path d="M${x0},${top + LABEL_H - 1}h${span}" stroke="${fill(seg.part)}" stroke-width="2"/>` +
          Array.from(seg.bytes, (b, i) => cell(seg.part, x0 + i * (CELL_W + GAP), top + LABEL_H + 2, b)).join("") +
          `</g>`,
      );
    }
  });
  const gridW = OFFSET_W + perRow * (CELL_W + GAP);
  const legendX = gridW + 24;
  const legendLines = model.parts.map((p) => `${p.name} = ${p.value}${p.meaning ? `  ${p.meaning}` : ""}`);
  if (model.omittedTail) legendLines.push(`(${model.omittedTail} more bytes not shown)`);
  legendLines.forEach((line, i) => {
    const p = model.parts[i];
    const y = TOP + 4 + i * 18;
    const swatch = p
      ? p.kind === "padding"
        ? `<rect x="${legendX}" y="${y}" width="10" height="10" fill="none" stroke="${INK}" stroke-dasharray="2 2"/>`
        : `<rect x="${legendX}" y="${y}" width="10" height="10" fill="${fill(p)}"/>`
      : "";
    parts.push(`${swatch}<text x="${legendX + 16}" y="${y + 9}" fill="${INK}">${escapeMarkup(line)}</text>`);
  });
  const legendW = Math.max(0, ...legendLines.map((l) => [...l].length)) * CHAR_W + 16;
  // the 13px heading may be wider than grid and legend together
  const headingW = [...model.heading].length * CHAR_W * (13 / 11);
  const width = Math.ceil(Math.max(legendX + legendW, headingW) + 8);
  const height = Math.ceil(Math.max(TOP + grid.length * ROW_H, TOP + 8 + legendLines.length * 18));
  return (
    `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${escapeMarkup(FONT_MONO)}" font-size="11" ` +
    `role="img" aria-label="${escapeMarkup(model.heading)}">` +
    `<text x="0" y="16" font-size="13" font-weight="bold" fill="${INK}">${escapeMarkup(model.heading)}</text>` +
    parts.join("") +
    `</svg>`
  );
}
