/**
 * Records what a migration did, on the simulated clock, in the shapes the
 * display layer draws: phases (one Gantt row for the migration, one per device
 * for device steps), rounds, and a coarse dirty heat map.
 */
import type { Clock } from "../../hw-emu/sim/clock.js";
import type { DirtyHeatmapInput, DirtySync, MigrationIteration, MigrationPhase } from "./timeline-shapes.js";
import type { CoarseDirty } from "./dirty-set.js";
import type { IterationReport, PhaseName } from "./types.js";

export class TimelineRecorder {
  readonly phases: MigrationPhase[] = [];
  readonly rounds: IterationReport[] = [];
  readonly syncs: DirtySync[] = [];
  private open: { name: PhaseName; startNs: number } | null = null;

  constructor(
    private readonly clock: Clock,
    readonly coarse: CoarseDirty,
  ) {}

  /** The phase now running (the last begun). */
  get current(): PhaseName | null {
    return this.open?.name ?? null;
  }

  begin(name: PhaseName): void {
    this.end();
    this.open = { name, startNs: this.clock.now };
  }

  /** Close the open migration-wide phase. */
  end(): void {
    if (!this.open) return;
    this.phases.push({ name: this.open.name, startNs: this.open.startNs, endNs: this.clock.now });
    this.open = null;
  }

  /** Run `fn` as a step of one device and record it on that device's row. */
  device<T>(device: string, name: string, fn: () => T): T {
    const startNs = this.clock.now;
    try {
      return fn();
    } finally {
      this.phases.push({ name, startNs, endNs: this.clock.now, device });
    }
  }

  round(r: IterationReport, coarse: Uint32Array): void {
    this.rounds.push(r);
    this.syncs.push({ timeNs: r.startNs, dirty: coarse, label: r.final ? `final (${r.index})` : `round ${r.index}` });
  }

  iterations(): MigrationIteration[] {
    return this.rounds.map((r) => ({ index: r.index, startNs: r.startNs, endNs: r.endNs, bytesSent: r.ramBytes + r.deviceBytes, dirtyPages: r.dirtyPages }));
  }

  heatmap(): DirtyHeatmapInput {
    return { iovaBase: 0, pageSize: this.coarse.pageSize, pages: this.coarse.bits, syncs: this.syncs };
  }
}
