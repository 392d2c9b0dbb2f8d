/**
 * vfio-pci's file offset layout and the device-specific regions a variant
 * driver may add (indexes from VFIO_PCI_NUM_REGIONS on, each announced with a
 * VFIO_REGION_INFO_CAP_TYPE capability, e.g. the v1 migration region).
 */
import {
  type Capability,
  type Mapping,
  VFIO_PCI_REGION,
  VFIO_REGION_INFO_CAP,
  vfio_info_cap_header,
  vfio_region_info_cap_type,
} from "../../uapi/index.js";

/** Region i starts at file offset i << 40 (vfio-pci's VFIO_PCI_OFFSET_SHIFT). */
export const VFIO_PCI_OFFSET_SHIFT = 40n;
export const VFIO_PCI_OFFSET_MASK = (1n << VFIO_PCI_OFFSET_SHIFT) - 1n;

export const REGION = {
  BAR0: VFIO_PCI_REGION.VFIO_PCI_BAR0_REGION_INDEX,
  BAR5: VFIO_PCI_REGION.VFIO_PCI_BAR5_REGION_INDEX,
  ROM: VFIO_PCI_REGION.VFIO_PCI_ROM_REGION_INDEX,
  CONFIG: VFIO_PCI_REGION.VFIO_PCI_CONFIG_REGION_INDEX,
  VGA: VFIO_PCI_REGION.VFIO_PCI_VGA_REGION_INDEX,
  NUM: VFIO_PCI_REGION.VFIO_PCI_NUM_REGIONS,
} as const;

export function regionOffset(index: number): bigint {
  return BigInt(index) << VFIO_PCI_OFFSET_SHIFT;
}

/** Split a device fd offset into region index and offset inside the region. */
export function splitOffset(offset: bigint): { index: number; pos: bigint } {
  const index = offset >> VFIO_PCI_OFFSET_SHIFT;
  return { index: index > 0xffff_ffffn ? 0xffff_ffff : Number(index), pos: offset & VFIO_PCI_OFFSET_MASK };
}

/**
 * A device-specific region. `read`/`write` get the offset inside the region
 * and answer like pread/pwrite (bytes moved, or throw an Errno); the region
 * checks its own bounds, as each Linux region's rw op does.
 */
export interface DeviceRegion {
  /** VFIO_REGION_TYPE_* (with PCI_VENDOR_TYPE | vendor for vendor regions) */
  readonly type: number;
  readonly subtype: number;
  readonly size: bigint;
  /** VFIO_REGION_INFO_FLAG_* (READ, WRITE, MMAP); CAPS is added by the core */
  readonly flags: number;
  read(buf: Uint8Array, pos: bigint): number;
  write(buf: Uint8Array, pos: bigint): number;
  /** required when flags has MMAP */
  mmap?(length: number, prot: number, pos: bigint): Mapping;
  /** capabilities after the TYPE one (e.g. a sparse-mmap layout) */
  capabilities?(): Capability[];
}

const HEADER = vfio_info_cap_header.size;

/** VFIO_REGION_INFO_CAP_TYPE body: u32 type, u32 subtype. */
export function typeCapability(type: number, subtype: number): Capability {
  const full = vfio_region_info_cap_type.encode({ type, subtype });
  return { id: VFIO_REGION_INFO_CAP.values.TYPE, version: 1, body: full.subarray(HEADER) };
}

/** VFIO_REGION_INFO_CAP_MSIX_MAPPABLE: a bare header. */
export function msixMappableCapability(): Capability {
  return { id: VFIO_REGION_INFO_CAP.values.MSIX_MAPPABLE, version: 1, body: new Uint8Array(0) };
}
