/**
 * The Linux VFIO and iommufd ABI: request numbers, constants, struct layouts and
 * their codecs, errnos. Owned by the kernel side, as include/uapi is; imports nothing
 * outside this folder.
 */
export * from "./errno.js";
export * from "./struct.js";
export * from "./constants.js";
export * from "./ioctl.js";
export * from "./structs-vfio.js";
export * from "./structs-iommufd.js";
export * from "./copy-in.js";
export * from "./capchain.js";
export * from "./annotate.js";
export * from "./syscalls.js";

import * as vfioStructs from "./structs-vfio.js";
import * as iommufdStructs from "./structs-iommufd.js";
import { constantTable } from "./constants.js";
import { IOCTL_DEFS } from "./ioctl.js";
import { elementSize, type StructDef } from "./struct.js";

/** Every struct by its kernel name (without the `struct ` prefix). */
export const STRUCTS: Readonly<Record<string, StructDef<Record<string, unknown>>>> = Object.fromEntries(
  [...Object.values(vfioStructs), ...Object.values(iommufdStructs)].map((d) => [d.name, d as StructDef<Record<string, unknown>>]),
);

export interface AbiJson {
  ioctls: Record<string, number>;
  constants: Record<string, number>;
  structs: Record<string, { size: number; fields: Record<string, [number, number]> }>;
}

/**
 * The whole ABI as one JSON-able object: ioctl numbers and constants by kernel
 * name, and each struct's size and fields as [offset, size]. A flexible array
 * member is listed at its offset with size 0.
 */
export function abiJson(): AbiJson {
  const ioctls: Record<string, number> = {};
  for (const d of IOCTL_DEFS) ioctls[d.name] = d.request;
  const structs: AbiJson["structs"] = {};
  for (const [name, def] of Object.entries(STRUCTS)) {
    const fields: Record<string, [number, number]> = {};
    for (const f of def.fields) fields[f.name] = [f.offset, f.size];
    if (def.flexible) fields[def.flexible.name] = [def.size, 0];
    structs[name] = { size: def.size, fields };
  }
  return { ioctls, constants: constantTable(), structs };
}

/** Size of one element of a struct's flexible array member. */
export function flexibleElementSize(def: StructDef<Record<string, unknown>>): number {
  if (!def.flexible) throw new Error(`struct ${def.name} has no flexible array member`);
  return elementSize(def.flexible.element);
}
