/**
 * VFIO capability chains: INFO ioctls (device, region, type1 IOMMU) append
 * capabilities after their fixed struct. Each starts with vfio_info_cap_header
 * {u16 id, u16 version, u32 next}; `next` and the struct's cap_offset are byte
 * offsets from the start of the INFO buffer, 0 ending the chain.
 */
import { vfio_info_cap_header } from "./structs-vfio.js";

export interface Capability {
  id: number;
  version: number;
  /** the capability's bytes after its 8-byte header */
  body: Uint8Array;
}

export interface PlacedCapability extends Capability {
  /** offset of the header from the start of the INFO buffer */
  offset: number;
}

const HEADER = vfio_info_cap_header.size;

/**
 * Lay capabilities out after a fixed struct of `fixedSize` bytes, each aligned
 * to 8 bytes as the kernel's helper does. Returns the chain's bytes and the total
 * size the caller's buffer needs.
 */
export function buildCapChain(fixedSize: number, caps: readonly Capability[]): { bytes: Uint8Array; firstOffset: number; totalSize: number } {
  let offset = Math.ceil(fixedSize / 8) * 8;
  const firstOffset = caps.length ? offset : 0;
  const placed: { cap: Capability; offset: number }[] = [];
  for (const cap of caps) {
    placed.push({ cap, offset });
    offset = Math.ceil((offset + HEADER + cap.body.byteLength) / 8) * 8;
  }
  const totalSize = caps.length ? offset : fixedSize;
  const bytes = new Uint8Array(totalSize - fixedSize);
  placed.forEach(({ cap, offset: at }, i) => {
    const next = i + 1 < placed.length ? placed[i + 1]!.offset : 0;
    vfio_info_cap_header.encodeInto(bytes, at - fixedSize, { id: cap.id, version: cap.version, next });
    bytes.set(cap.body, at - fixedSize + HEADER);
  });
  return { bytes, firstOffset, totalSize };
}

/** Walk a chain in an INFO buffer starting at `capOffset`; stops at 0 and refuses loops. */
export function parseCapChain(info: Uint8Array, capOffset: number): PlacedCapability[] {
  const out: PlacedCapability[] = [];
  const seen = new Set<number>();
  let at = capOffset;
  while (at !== 0) {
    if (seen.has(at)) throw new Error(`capability chain loops back to offset ${at}`);
    if (at + HEADER > info.byteLength) throw new Error(`capability at offset ${at} runs past the ${info.byteLength}-byte buffer`);
    seen.add(at);
    const h = vfio_info_cap_header.decode(info, at);
    const end = h.next !== 0 && h.next > at ? h.next : info.byteLength;
    out.push({ id: h.id, version: h.version, offset: at, body: info.slice(at + HEADER, end) });
    at = h.next;
  }
  return out;
}
