/**
 * Bus/device/function addressing. The routing id (requester id) of a
 * function is bus << 8 | device << 3 | function, as carried in PCI Express
 * transaction headers and used by IOMMUs to pick a context.
 */

export interface Bdf {
  bus: number;
  device: number;
  fn: number;
}

export function routingId(bus: number, device: number, fn: number): number {
  if (!Number.isInteger(bus) || bus < 0 || bus > 255) throw new RangeError(`bus ${bus} not in 0..255`);
  if (!Number.isInteger(device) || device < 0 || device > 31) throw new RangeError(`device ${device} not in 0..31`);
  if (!Number.isInteger(fn) || fn < 0 || fn > 7) throw new RangeError(`function ${fn} not in 0..7`);
  return (bus << 8) | (device << 3) | fn;
}

export function checkRoutingId(rid: number): number {
  if (!Number.isInteger(rid) || rid < 0 || rid > 0xffff) throw new RangeError(`routing id ${rid} not in 0..0xffff`);
  return rid;
}

export function bdfOf(rid: number): Bdf {
  checkRoutingId(rid);
  return { bus: rid >> 8, device: (rid >> 3) & 0x1f, fn: rid & 0x7 };
}

const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");

/** Linux-style name, e.g. "0000:03:00.1" (segment 0). */
export function formatBdf(rid: number, segment = 0): string {
  const { bus, device, fn } = bdfOf(rid);
  return `${hex(segment, 4)}:${hex(bus, 2)}:${hex(device, 2)}.${fn}`;
}

/** Parses "0000:03:00.1" or "03:00.1" into a routing id. */
export function parseBdf(text: string): number {
  const m = /^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/.exec(text.trim());
  if (!m) throw new SyntaxError(`not a PCI address: ${JSON.stringify(text)}`);
  return routingId(parseInt(m[2]!, 16), parseInt(m[3]!, 16), parseInt(m[4]!, 10));
}
