/**
 * Annotate encoded bytes with the struct they hold: which field owns each byte,
 * its decoded value and what the value means (flag names, enum names). The
 * display layer renders this as a byte map; nothing here formats for a medium.
 */
import { describeFlags, enumName, elementSize, type StructDef } from "./struct.js";

export interface AnnotatedField {
  name: string;
  offset: number;
  size: number;
  type: string;
  bytes: Uint8Array;
  /** decoded value as text: decimal for small numbers, hex for wide ones */
  value: string;
  /** flag or enum names, unknown bits; empty when the value has no symbolic meaning */
  meaning: string;
}

export interface Annotation {
  struct: string;
  size: number;
  fields: AnnotatedField[];
  /** bytes past the fixed struct (flexible array, capability chain, or padding), if any */
  tail?: { name: string; offset: number; bytes: Uint8Array };
}

function hex(v: bigint | number): string {
  return "0x" + v.toString(16);
}

export function annotate(def: StructDef<Record<string, unknown>>, bytes: Uint8Array): Annotation {
  const decoded = def.decode(bytes, 0, { length: Math.min(bytes.byteLength, def.size) });
  const fields: AnnotatedField[] = def.fields.map((f) => {
    const raw = decoded[f.name];
    let value: string;
    let meaning = "";
    if (raw instanceof Uint8Array) {
      value = Array.from(raw, (b) => b.toString(16).padStart(2, "0")).join(" ");
    } else {
      const n = raw as number | bigint;
      value = f.type === "u64" || f.type === "ptr" || f.flags ? hex(n) : String(n);
      if (f.flags && f.enumSet && f.enumMask !== undefined) {
        // an index under the mask, flags above it: "MIG_DEVICE_STATE | SET"
        const index = Number(BigInt(n) & BigInt(f.enumMask));
        const { names, unknown } = describeFlags(f.flags, BigInt(n) & ~BigInt(f.enumMask));
        const indexName = enumName(f.enumSet, index) ?? `unknown ${f.enumSet.name} ${index}`;
        meaning = [indexName, ...names, ...(unknown ? [`unknown ${hex(unknown)}`] : [])].join(" | ");
      } else if (f.flags) {
        const { names, unknown } = describeFlags(f.flags, n);
        meaning = [...names, ...(unknown ? [`unknown ${hex(unknown)}`] : [])].join(" | ") || "0";
      } else if (f.enumSet) {
        meaning = enumName(f.enumSet, Number(n)) ?? `unknown ${f.enumSet.name} value`;
      }
    }
    return {
      name: f.name,
      offset: f.offset,
      size: f.size,
      type: f.type,
      bytes: bytes.slice(f.offset, Math.min(f.offset + f.size, bytes.byteLength)),
      value,
      meaning,
    };
  });
  const out: Annotation = { struct: def.name, size: def.size, fields };
  if (bytes.byteLength > def.size) {
    const name = def.flexible ? `${def.flexible.name}[] (${elementSize(def.flexible.element)}-byte elements)` : "trailing bytes";
    out.tail = { name, offset: def.size, bytes: bytes.slice(def.size) };
  }
  return out;
}
