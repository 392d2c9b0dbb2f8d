/** A byte map as a monospace table: one line per part (more for long parts), bytes in hex. */
import { type ByteMapModel, hexBytes } from "./byte-map-model.js";

const BYTES_PER_LINE = 8;

export function byteMapText(model: ByteMapModel): string {
  const header = ["offset", "bytes", "field", "type", "value", "meaning"];
  const lines: string[][] = [];
  for (const part of model.parts) {
    const chunks: string[] = [];
    for (let i = 0; i < part.bytes.byteLength; i += BYTES_PER_LINE) chunks.push(hexBytes(part.bytes.subarray(i, i + BYTES_PER_LINE)));
    if (chunks.length === 0) chunks.push("");
    chunks.forEach((chunk, i) => {
      const offset = "0x" + (part.offset + i * BYTES_PER_LINE).toString(16).padStart(4, "0");
      // a byte array's value is its bytes, already in the bytes column
      const value = part.value === hexBytes(part.bytes) ? "" : part.value;
      lines.push(i === 0 ? [offset, chunk, part.name, part.type, value, part.meaning] : [offset, chunk, "", "", "", ""]);
    });
  }
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
  const fmt = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
  const out = [model.heading, fmt(header), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)];
  if (model.omittedTail) out.push(`(${model.omittedTail} more bytes not shown)`);
  return out.join("\n");
}
