/**
 * A byte map as self-contained HTML: a grid of byte cells with each field's
 * name over its bytes, and beside it a legend with offsets, types and decoded
 * values. Only inline styles (no <style>, no classes to collide with the
 * page); text inherits the page's colour and fills are translucent tints, so
 * it reads in light and dark themes alike.
 */
import { type ByteMapModel, type ByteMapPart, hexByte, rowOffsetLabel, rows } from "./byte-map-model.js";
import { escapeMarkup } from "./escape.js";
import { FONT_MONO, INK, paletteColor, withAlpha } from "./theme.js";

function partColor(part: ByteMapPart): string {
  return part.kind === "field" ? paletteColor(part.fieldIndex) : INK;
}

function cellStyle(part: ByteMapPart): string {
  const color = partColor(part);
  if (part.kind === "padding") return `border:1px dashed ${color};opacity:0.75`;
  return `background:${withAlpha(color, part.kind === "tail" ? 0.15 : 0.28)};border:1px solid ${color}`;
}

function describe(part: ByteMapPart): string {
  return `${part.name} (${part.type}, offset ${part.offset}, ${part.size} bytes) = ${part.value}${part.meaning ? ` (${part.meaning})` : ""}`;
}

function grid(model: ByteMapModel, perRow: number): string {
  const cells: string[] = [];
  rows(model, perRow).forEach((row, r) => {
    const labelRow = 2 * r + 1;
    const byteRow = 2 * r + 2;
    cells.push(`<div style="grid-row:${byteRow};grid-column:1;opacity:0.7;align-self:center">${rowOffsetLabel(row)}</div>`);
    for (const seg of row) {
      const color = partColor(seg.part);
      const title = escapeMarkup(describe(seg.part));
      const name = escapeMarkup(seg.first ? seg.part.name : `…${seg.part.name}`);
      cells.push(
        `<div title="${title}" style="grid-row:${labelRow};grid-column:${seg.column + 2} / span ${seg.bytes.byteLength};` +
          `border-bottom:2px solid ${color};font-size:10px;line-height:1.3;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;padding:0 2px">${name}</div>`,
      );
      Array.from(seg.bytes).forEach((b, i) => {
        cells.push(
          `<div title="${title}" style="grid-row:${byteRow};grid-column:${seg.column + 2 + i};text-align:center;padding:2px 0;${cellStyle(seg.part)}">${hexByte(b)}</div>`,
        );
      });
    }
  });
  return (
    `<div role="figure" aria-label="byte grid" style="display:grid;grid-template-columns:4.2em repeat(${perRow},2.3em);` +
    `column-gap:2px;row-gap:1px;align-items:end">${cells.join("")}</div>`
  );
}

function legend(model: ByteMapModel): string {
  const th = `style="text-align:left;padding:2px 8px;border-bottom:1px solid ${INK}"`;
  const td = `style="padding:2px 8px;vertical-align:top"`;
  const body = model.parts
    .map((p) => {
      const swatch = `<span style="display:inline-block;width:0.9em;height:0.9em;vertical-align:-0.1em;margin-right:0.4em;${cellStyle(p)}"></span>`;
      return (
        `<tr><td ${td}>${swatch}${escapeMarkup(p.name)}</td><td ${td}>${p.offset}</td><td ${td}>${p.size}</td>` +
        `<td ${td}>${escapeMarkup(p.type)}</td><td ${td}>${escapeMarkup(p.value)}</td><td ${td}>${escapeMarkup(p.meaning)}</td></tr>`
      );
    })
    .join("");
  const head = ["field", "offset", "size", "type", "value", "meaning"].map((h) => `<th ${th}>${h}</th>`).join("");
  const omitted = model.omittedTail ? `<caption style="caption-side:bottom;text-align:left;opacity:0.7">${model.omittedTail} more bytes not shown</caption>` : "";
  return `<table style="border-collapse:collapse;font-size:12px">${omitted}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

export function byteMapHtml(model: ByteMapModel, perRow: number): string {
  return (
    `<div style="font-family:${escapeMarkup(FONT_MONO)};font-size:12px;color:inherit">` +
    `<div style="font-weight:bold;margin-bottom:6px">${escapeMarkup(model.heading)}</div>` +
    `<div style="display:flex;flex-wrap:wrap;gap:12px 24px;align-items:flex-start">${grid(model, perRow)}${legend(model)}</div></div>`
  );
}
