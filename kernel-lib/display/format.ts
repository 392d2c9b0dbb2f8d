/** Human-readable numbers for labels, tooltips and plain-text outputs. */

const BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] as const;

/** A byte count with a binary unit: 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number | bigint): string {
  let v = Number(bytes);
  let u = 0;
  while (Math.abs(v) >= 1024 && u < BINARY_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${v} B`;
  return `${trimNumber(v)} ${BINARY_UNITS[u]}`;
}

/** The largest binary unit not above `bytes` (at least bytes), for scaling an axis. */
export function binaryUnitFor(bytes: number): { name: string; size: number } {
  let u = 0;
  while (u < BINARY_UNITS.length - 1 && bytes >= 1024 ** (u + 1)) u++;
  return { name: BINARY_UNITS[u]!, size: 1024 ** u };
}

/** Simulated nanoseconds with a readable unit: 1_250_000 -> "1.25 ms". */
export function formatNs(ns: number): string {
  const a = Math.abs(ns);
  if (a < 1_000) return `${ns} ns`;
  if (a < 1_000_000) return `${trimNumber(ns / 1_000)} µs`;
  if (a < 1_000_000_000) return `${trimNumber(ns / 1_000_000)} ms`;
  return `${trimNumber(ns / 1_000_000_000)} s`;
}

/** Three significant digits without trailing zeros. */
export function trimNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(3)));
}

/** An address or offset in hex: 4096 -> "0x1000". */
export function formatHex(v: number | bigint): string {
  return "0x" + v.toString(16);
}
