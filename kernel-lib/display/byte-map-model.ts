/**
 * The medium-independent part of a byte map: an annotated struct turned into
 * parts that together cover every byte once (fields, the padding between
 * them, the bytes past the struct), and those parts cut into rows of cells.
 * The text, HTML and SVG renderers draw from this.
 */
import type { Annotation, StructDef } from "../../hw-emu/uapi/index.js";

export type PartKind = "field" | "padding" | "tail";

export interface ByteMapPart {
  kind: PartKind;
  name: string;
  offset: number;
  /** bytes of the struct layout this part spans */
  size: number;
  type: string;
  /** the bytes present in the input (fewer than size only for a truncated tail) */
  bytes: Uint8Array;
  value: string;
  meaning: string;
  /** index among the fields, for colouring; -1 for padding and tail */
  fieldIndex: number;
}

export interface ByteMapModel {
  struct: string;
  /** sizeof the struct */
  size: number;
  parts: ByteMapPart[];
  /** bytes of the tail left out of the picture */
  omittedTail: number;
  /** one-line heading */
  heading: string;
}

/** A run of one part's bytes within one row. */
export interface RowSegment {
  part: ByteMapPart;
  /** column of the first byte in the row */
  column: number;
  /** offset of the first byte in the struct */
  offset: number;
  bytes: Uint8Array;
  /** whether this run holds the part's first byte */
  first: boolean;
}

export interface ByteMapOptions {
  /** bytes per row of the grid (default 8) */
  bytesPerRow?: number;
  /** most bytes past the struct to draw (default 256); the rest are counted, not drawn */
  maxTailBytes?: number;
  /**
   * the struct the bytes past the first one hold, drawn field by field as part of the
   * same map: e.g. the payload of a vfio_device_feature (its data[] member)
   */
  payload?: StructDef<Record<string, unknown>>;
  /** words put before the struct's name in the heading, e.g. "SET as the kernel left it" */
  title?: string;
}

export function hexByte(b: number): string {
  return b.toString(16).padStart(2, "0");
}

export function hexBytes(bytes: Uint8Array): string {
  return Array.from(bytes, hexByte).join(" ");
}

function padding(offset: number, size: number, bytes: Uint8Array): ByteMapPart {
  const slice = bytes.slice(offset, offset + size);
  const zero = slice.every((b) => b === 0);
  return {
    kind: "padding",
    name: "(padding)",
    offset,
    size,
    type: "pad",
    bytes: slice,
    value: hexBytes(slice),
    meaning: zero ? "" : "non-zero padding",
    fieldIndex: -1,
  };
}

export function buildModel(annotation: Annotation, bytes: Uint8Array, options: ByteMapOptions = {}): ByteMapModel {
  const maxTail = options.maxTailBytes ?? 256;
  const fields = [...annotation.fields].sort((a, b) => a.offset - b.offset);
  const parts: ByteMapPart[] = [];
  let at = 0;
  fields.forEach((f, i) => {
    if (f.offset < at) throw new Error(`struct ${annotation.struct}: field ${f.name} overlaps the field before it`);
    if (f.offset > at) parts.push(padding(at, f.offset - at, bytes));
    parts.push({ kind: "field", name: f.name, offset: f.offset, size: f.size, type: f.type, bytes: f.bytes, value: f.value, meaning: f.meaning, fieldIndex: i });
    at = f.offset + f.size;
  });
  if (at < annotation.size) parts.push(padding(at, annotation.size - at, bytes));
  let omittedTail = 0;
  let tailNote = "";
  if (annotation.tail) {
    const t = annotation.tail;
    const shown = t.bytes.slice(0, maxTail);
    omittedTail = t.bytes.byteLength - shown.byteLength;
    parts.push({
      kind: "tail",
      name: t.name,
      offset: t.offset,
      size: shown.byteLength,
      type: "tail",
      bytes: shown,
      value: `${t.bytes.byteLength} bytes`,
      meaning: omittedTail ? `first ${shown.byteLength} shown` : "",
      fieldIndex: -1,
    });
    tailNote = ` + ${t.bytes.byteLength} bytes of ${t.name}`;
  }
  return { struct: annotation.struct, size: annotation.size, parts, omittedTail, heading: `${options.title ? `${options.title}: ` : ""}struct ${annotation.struct}: ${annotation.size} bytes${tailNote}` };
}

/** Cut the parts into rows of `perRow` bytes, keeping each part's bytes in order. */
export function rows(model: ByteMapModel, perRow: number): RowSegment[][] {
  const out: RowSegment[][] = [];
  for (const part of model.parts) {
    let done = 0;
    while (done < part.bytes.byteLength) {
      const offset = part.offset + done;
      const row = Math.floor(offset / perRow);
      const column = offset % perRow;
      const n = Math.min(perRow - column, part.bytes.byteLength - done);
      (out[row] ??= []).push({ part, column, offset, bytes: part.bytes.slice(done, done + n), first: done === 0 });
      done += n;
    }
  }
  // rows wholly inside a truncated input stay empty; drop holes so renderers see only drawn rows
  return out.filter((r) => r !== undefined);
}

/** The offset of a row's first column, as 0x0000. */
export function rowOffsetLabel(row: RowSegment[]): string {
  const first = row[0]!;
  return "0x" + (first.offset - first.column).toString(16).padStart(4, "0");
}
