/**
 * The simulated time the VMM's own work takes, besides moving bytes over the
 * link. Each default says where its number comes from
 * (shared/reference/anchors.md §2–3); everything can be overridden per migration.
 */

export interface MigrationCosts {
  /** per bitmap byte a dirty sync reads (anchors §3.5: about 1 ms per 2 MB of bitmap) */
  harvestNsPerBitmapByte: number;
  /** per dirty page a sync extracts (anchors §3.5: about 5 ns) */
  harvestNsPerDirtyPage: number;
  /**
   * per direct arc of a device state change. No figure is published; mlx5 arcs are
   * firmware commands, so a few hundred µs is assumed.
   */
  deviceArcNs: number;
  /** per device whose config space is written back on the destination (assumed) */
  configRestoreNs: number;
  /** per interrupt vector enabled on the destination (anchors §2.4: 21 ms for 8 VFs x 65 vectors, batched, ≈ 40 µs) */
  irqVectorNs: number;
  /** wire header of a page sent with its content (QEMU: a 64-bit offset/flags word) */
  pageHeaderBytes: number;
  /** wire size of a zero page (QEMU: the header plus one fill byte) */
  zeroPageBytes: number;
  /** wire header of one chunk of device data (QEMU: a 64-bit tag and a 64-bit size) */
  deviceChunkHeaderBytes: number;
  /** bytes read from a data fd at once (QEMU: 1 MiB) */
  deviceReadBytes: number;
  /** link time per RAM slice before the clock runs the guest again (QEMU's MAX_WAIT: 50 ms) */
  ramSliceNs: number;
}

export const DEFAULT_COSTS: Readonly<MigrationCosts> = Object.freeze({
  harvestNsPerBitmapByte: 1e6 / (2 * 1024 * 1024),
  harvestNsPerDirtyPage: 5,
  deviceArcNs: 200_000,
  configRestoreNs: 50_000,
  irqVectorNs: 40_000,
  pageHeaderBytes: 8,
  zeroPageBytes: 9,
  deviceChunkHeaderBytes: 16,
  deviceReadBytes: 1 << 20,
  ramSliceNs: 50_000_000,
});

export function resolveCosts(over: Partial<MigrationCosts> = {}): MigrationCosts {
  const c = { ...DEFAULT_COSTS, ...over };
  for (const [k, v] of Object.entries(c)) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new RangeError(`costs.${k} must be a non-negative number, got ${String(v)}`);
  }
  if (c.deviceReadBytes < 1 || !Number.isInteger(c.deviceReadBytes)) throw new RangeError("costs.deviceReadBytes must be a positive integer");
  return c;
}
