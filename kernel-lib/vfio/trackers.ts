/**
 * One interface for the three ways a VMM learns which guest pages were written
 * by devices: type1 (everything mapped is dirty while a passthrough device is in
 * the container), iommufd's IOMMU dirty bits, and the device's own DMA log.
 */
import { DirtyBitmap } from "./bitmap.js";
import type { Container } from "./container.js";
import type { DmaLogging } from "./dma-logging.js";
import type { Hwpt } from "./iommufd.js";

export interface TrackedRange {
  iova: bigint;
  length: bigint;
}

export interface DirtyTracker {
  /** "type1", "iommufd" or "device-log:<device>" */
  readonly name: string;
  start(): void;
  /** pages written since the last sync (or start), one bitmap per tracked range; clears what it reports */
  sync(): DirtyBitmap[];
  stop(): void;
}

export class Type1Tracker implements DirtyTracker {
  readonly name = "type1";
  constructor(
    private readonly container: Container,
    private readonly ranges: readonly TrackedRange[],
    private readonly pageSize = 4096,
  ) {}
  start(): void {
    this.container.startDirtyTracking();
  }
  sync(): DirtyBitmap[] {
    return this.ranges.map((r) => this.container.dirtyBitmap(r.iova, r.length, this.pageSize));
  }
  stop(): void {
    this.container.stopDirtyTracking();
  }
}

export class IommufdTracker implements DirtyTracker {
  readonly name = "iommufd";
  constructor(
    private readonly hwpt: Hwpt,
    private readonly ranges: readonly TrackedRange[],
    private readonly pageSize = 4096,
  ) {}
  start(): void {
    this.hwpt.setDirtyTracking(true);
  }
  sync(): DirtyBitmap[] {
    return this.ranges.map((r) => this.hwpt.dirtyBitmap(r.iova, r.length, this.pageSize));
  }
  stop(): void {
    this.hwpt.setDirtyTracking(false);
  }
}

export class DeviceLogTracker implements DirtyTracker {
  readonly name: string;
  private chosenPageSize = 0;
  constructor(
    private readonly log: DmaLogging,
    deviceName: string,
    private readonly ranges: readonly TrackedRange[],
    private readonly pageSize = 4096,
  ) {
    this.name = `device-log:${deviceName}`;
  }
  start(): void {
    this.chosenPageSize = this.log.start(this.ranges, this.pageSize);
  }
  /** the page size the device chose at start (reports are converted to the requested size) */
  get devicePageSize(): number {
    return this.chosenPageSize;
  }
  sync(): DirtyBitmap[] {
    return this.ranges.map((r) => this.log.report(r.iova, r.length, this.pageSize));
  }
  stop(): void {
    this.log.stop();
  }
}

/** Several trackers as one: the union of their reports (the "merged" design discussed for the uAPI). */
export class MergedTracker implements DirtyTracker {
  readonly name: string;
  constructor(private readonly trackers: readonly DirtyTracker[]) {
    this.name = `merged(${trackers.map((t) => t.name).join(",")})`;
  }
  start(): void {
    for (const t of this.trackers) t.start();
  }
  sync(): DirtyBitmap[] {
    const [first, ...rest] = this.trackers.map((t) => t.sync());
    if (!first) return [];
    for (const other of rest) other.forEach((bm, i) => first[i]!.merge(bm));
    return first;
  }
  stop(): void {
    for (const t of this.trackers) t.stop();
  }
}
