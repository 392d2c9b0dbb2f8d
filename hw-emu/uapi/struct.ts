/**
 * C struct layouts and their little-endian codecs.
 *
 * A struct is declared as a list of fields in C order; offsets follow the x86-64
 * (LP64) rules gcc applies: every scalar is aligned to its own size, the struct
 * to its largest member, and a trailing flexible array starts at the aligned end.
 * The ABI tests compare these computed offsets against the kernel's.
 */

export type ScalarType = "u8" | "u16" | "u32" | "s32" | "u64" | "ptr";

const SCALAR_SIZE: Record<ScalarType, number> = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8, ptr: 8 };

/** A named set of bits, used to name flag values and to report unknown bits. */
export interface FlagSet {
  readonly name: string;
  readonly bits: Readonly<Record<string, number>>;
}

/** A named set of values for an enum-like field. */
export interface EnumSet {
  readonly name: string;
  readonly values: Readonly<Record<string, number>>;
}

export interface FieldInput {
  readonly name: string;
  readonly type: ScalarType | "bytes";
  /** for "bytes": its length */
  readonly length?: number;
  readonly flags?: FlagSet;
  readonly enumSet?: EnumSet;
  /** the bits of the value that hold an index named by enumSet; the other bits are flags (vfio_device_feature.flags) */
  readonly enumMask?: number;
}

export interface FieldLayout {
  readonly name: string;
  readonly type: ScalarType | "bytes";
  readonly offset: number;
  readonly size: number;
  readonly flags?: FlagSet;
  readonly enumSet?: EnumSet;
  readonly enumMask?: number;
}

export interface FlexibleArray {
  readonly name: string;
  /** element scalar type, or a struct */
  readonly element: ScalarType | StructDef<Record<string, unknown>>;
}

/** How the kernel learns how many bytes the caller handed over. */
export type SizeRule =
  /** VFIO: u32 argsz at offset 0; argsz < minsz is EINVAL; extra bytes are ignored */
  | "argsz"
  /** iommufd: u32 size at offset 0; size < minsz is EINVAL; non-zero bytes past the kernel's struct are E2BIG */
  | "size"
  /** a plain payload with no size field (feature payloads, capability bodies, array elements) */
  | "none";

type FieldValue<T extends ScalarType | "bytes"> = T extends "u64" | "ptr" ? bigint : T extends "bytes" ? Uint8Array : number;

export type FieldSpecTuple =
  | readonly [name: string, type: ScalarType]
  | readonly [name: string, type: ScalarType, extra: { flags?: FlagSet; enumSet?: EnumSet; enumMask?: number }]
  | readonly [name: string, type: "bytes", extra: { length: number }];

export type StructValue<F extends readonly FieldSpecTuple[]> = {
  -readonly [K in F[number] as K[0]]: FieldValue<K[1]>;
};

export interface StructDef<T extends Record<string, unknown>> {
  readonly name: string;
  /** sizeof(struct name) on x86-64 */
  readonly size: number;
  /** the smallest argsz/size the kernel accepts (offset of the end of the last mandatory field) */
  readonly minsz: number;
  readonly sizeRule: SizeRule;
  readonly fields: readonly FieldLayout[];
  readonly flexible?: FlexibleArray;
  /** struct alignment */
  readonly align: number;
  /** encode a value (missing fields are zero); the size field, if any, defaults to `size` */
  encode(value?: Partial<T>, options?: { totalSize?: number }): Uint8Array;
  /** encode into an existing buffer at an offset */
  encodeInto(target: Uint8Array, offset: number, value?: Partial<T>): void;
  /** decode the fixed part; throws UapiDecodeError if the buffer is shorter than needed */
  decode(bytes: Uint8Array, offset?: number, options?: { length?: number }): T;
  /** the typed value's field names, in order */
  readonly fieldNames: readonly (keyof T & string)[];
}

export class UapiDecodeError extends Error {
  override name = "UapiDecodeError";
  constructor(
    readonly struct: string,
    readonly needed: number,
    readonly got: number,
  ) {
    super(`struct ${struct}: need ${needed} bytes to decode, got ${got}`);
  }
}

export class UapiEncodeError extends Error {
  override name = "UapiEncodeError";
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

function toBigint(structName: string, field: string, v: unknown): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  throw new UapiEncodeError(`${structName}.${field}: expected a bigint (or a safe integer), got ${String(v)}`);
}

function writeScalar(view: DataView, offset: number, type: ScalarType, v: unknown, structName: string, field: string): void {
  switch (type) {
    case "u8":
    case "u16":
    case "u32": {
      const max = type === "u8" ? 0xff : type === "u16" ? 0xffff : U32_MAX;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
        throw new UapiEncodeError(`${structName}.${field}: ${String(v)} does not fit ${type}`);
      }
      if (type === "u8") view.setUint8(offset, v);
      else if (type === "u16") view.setUint16(offset, v, true);
      else view.setUint32(offset, v, true);
      return;
    }
    case "s32": {
      if (typeof v !== "number" || !Number.isInteger(v) || v < -0x8000_0000 || v > 0x7fff_ffff) {
        throw new UapiEncodeError(`${structName}.${field}: ${String(v)} does not fit s32`);
      }
      view.setInt32(offset, v, true);
      return;
    }
    case "u64":
    case "ptr": {
      const b = toBigint(structName, field, v);
      if (b < 0n || b > U64_MAX) throw new UapiEncodeError(`${structName}.${field}: ${b} does not fit u64`);
      view.setBigUint64(offset, b, true);
      return;
    }
  }
}

function readScalar(view: DataView, offset: number, type: ScalarType): number | bigint {
  switch (type) {
    case "u8":
      return view.getUint8(offset);
    case "u16":
      return view.getUint16(offset, true);
    case "u32":
      return view.getUint32(offset, true);
    case "s32":
      return view.getInt32(offset, true);
    case "u64":
    case "ptr":
      return view.getBigUint64(offset, true);
  }
}

function zeroOf(f: FieldLayout): number | bigint | Uint8Array {
  if (f.type === "u64" || f.type === "ptr") return 0n;
  if (f.type === "bytes") return new Uint8Array(f.size);
  return 0;
}

export interface DefineStructOptions {
  /** minimum argsz/size; defaults to the full size */
  minsz?: number | { through: string };
  sizeRule?: SizeRule;
  flexible?: FlexibleArray;
}

/**
 * Declare a struct. Field names are the kernel's; a nested struct's fields are
 * written flattened as `outer.inner` (e.g. `header.id`, `bitmap.pgsize`) so every
 * byte has one name.
 */
export function defineStruct<const F extends readonly FieldSpecTuple[]>(
  name: string,
  specs: F,
  options: DefineStructOptions = {},
): StructDef<StructValue<F>> {
  const fields: FieldLayout[] = [];
  let offset = 0;
  let align = 1;
  const place = (fname: string, type: ScalarType | "bytes", size: number, a: number, extra: Partial<FieldLayout>) => {
    offset = alignUp(offset, a);
    fields.push({ name: fname, type, offset, size, ...extra });
    offset += size;
    align = Math.max(align, a);
  };
  for (const spec of specs) {
    const [fname, type] = spec;
    if (type === "bytes") {
      const { length } = spec[2] as { length: number };
      place(fname, "bytes", length, 1, {});
    } else {
      const extra = (spec[2] ?? {}) as { flags?: FlagSet; enumSet?: EnumSet; enumMask?: number };
      const size = SCALAR_SIZE[type];
      if (extra.enumMask !== undefined && !(extra.enumSet && extra.flags)) throw new Error(`defineStruct ${name}: field ${fname} has an enumMask but not both enumSet and flags`);
      place(fname, type, size, size, {
        ...(extra.flags ? { flags: extra.flags } : {}),
        ...(extra.enumSet ? { enumSet: extra.enumSet } : {}),
        ...(extra.enumMask !== undefined ? { enumMask: extra.enumMask } : {}),
      });
    }
  }
  if (options.flexible) {
    const el = options.flexible.element;
    const elAlign = typeof el === "string" ? SCALAR_SIZE[el] : el.align;
    offset = alignUp(offset, elAlign);
    align = Math.max(align, elAlign);
  }
  const size = alignUp(offset, align);
  let minsz = size;
  if (typeof options.minsz === "number") minsz = options.minsz;
  else if (options.minsz && "through" in options.minsz) {
    const through = options.minsz.through;
    const f = fields.find((x) => x.name === through);
    if (!f) throw new Error(`defineStruct ${name}: minsz field ${through} not found`);
    minsz = f.offset + f.size;
  }
  const sizeRule = options.sizeRule ?? "none";
  const fieldNames = fields.map((f) => f.name);

  const def: StructDef<StructValue<F>> = {
    name,
    size,
    minsz,
    sizeRule,
    fields,
    align,
    fieldNames: fieldNames as (keyof StructValue<F> & string)[],
    ...(options.flexible ? { flexible: options.flexible } : {}),
    encodeInto(target, at, value = {}) {
      const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
      if (at + size > target.byteLength) throw new UapiEncodeError(`struct ${name}: needs ${size} bytes at offset ${at}, buffer has ${target.byteLength}`);
      const v = value as Record<string, unknown>;
      for (const key of Object.keys(v)) {
        if (!fieldNames.includes(key)) throw new UapiEncodeError(`struct ${name} has no field ${key}`);
      }
      for (const f of fields) {
        let fv = v[f.name];
        if (fv === undefined) {
          if (f.offset === 0 && sizeRule !== "none" && (f.name === "argsz" || f.name === "size")) fv = size;
          else continue;
        }
        if (f.type === "bytes") {
          if (!(fv instanceof Uint8Array) || fv.length > f.size) throw new UapiEncodeError(`${name}.${f.name}: expected up to ${f.size} bytes`);
          target.set(fv, at + f.offset);
        } else {
          writeScalar(view, at + f.offset, f.type, fv, name, f.name);
        }
      }
    },
    encode(value = {}, options2 = {}) {
      const total = options2.totalSize ?? size;
      if (total < size) throw new UapiEncodeError(`struct ${name}: totalSize ${total} is smaller than the struct (${size})`);
      const out = new Uint8Array(total);
      const v = value as Record<string, unknown>;
      const sizeField = sizeRule !== "none" ? fields[0]?.name : undefined;
      def.encodeInto(out, 0, (sizeField && v[sizeField] === undefined ? { ...v, [sizeField]: total } : v) as Partial<StructValue<F>>);
      return out;
    },
    decode(bytes, at = 0, options2 = {}) {
      // A caller may decode a struct the kernel only partly filled (argsz >= minsz):
      // `length` says how many bytes are meaningful; missing fields read as zero.
      const available = Math.min(bytes.byteLength - at, options2.length ?? Number.POSITIVE_INFINITY);
      const need = options2.length !== undefined ? Math.min(size, minsz) : size;
      if (available < need) throw new UapiDecodeError(name, need, Math.max(0, available));
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const out: Record<string, unknown> = {};
      for (const f of fields) {
        if (f.offset + f.size > available) {
          out[f.name] = zeroOf(f);
        } else if (f.type === "bytes") {
          out[f.name] = bytes.slice(at + f.offset, at + f.offset + f.size);
        } else {
          out[f.name] = readScalar(view, at + f.offset, f.type);
        }
      }
      return out as StructValue<F>;
    },
  };
  return def;
}

export function defineFlags(name: string, bits: Record<string, number>): FlagSet {
  return { name, bits };
}

export function defineEnum(name: string, values: Record<string, number>): EnumSet {
  return { name, values };
}

/** Split a flags value into the names of its known bits and the bits nobody defined. */
export function describeFlags(set: FlagSet, value: number | bigint): { names: string[]; unknown: bigint } {
  let rest = BigInt(value);
  const names: string[] = [];
  for (const [n, bit] of Object.entries(set.bits)) {
    const b = BigInt(bit);
    if (b !== 0n && (rest & b) === b) {
      names.push(n);
      rest &= ~b;
    }
  }
  return { names, unknown: rest };
}

/**
 * Check a flags value against its set: returns null when every bit is known, or a
 * message naming the struct field and each unknown bit.
 */
export function unknownFlagBits(structName: string, field: string, set: FlagSet, value: number | bigint): string | null {
  const { unknown } = describeFlags(set, value);
  if (unknown === 0n) return null;
  const bits: string[] = [];
  for (let i = 0n; i < 64n; i++) if ((unknown >> i) & 1n) bits.push(`bit ${i} (0x${(1n << i).toString(16)})`);
  return `${structName}.${field}: unknown ${set.name} flag ${bits.join(", ")}`;
}

export function enumName(set: EnumSet, value: number): string | undefined {
  for (const [n, v] of Object.entries(set.values)) if (v === value) return n;
  return undefined;
}

export function elementSize(el: ScalarType | StructDef<Record<string, unknown>>): number {
  return typeof el === "string" ? SCALAR_SIZE[el] : el.size;
}
