/**
 * QEMU's auto-converge, as migration/ram.c decides it: after a dirty sync, once more
 * than a second has passed since the period began, compare the bytes the guest
 * dirtied in the period with the bytes sent in it (migration_trigger_throttle()).
 * When the dirtied bytes exceed throttle-trigger-threshold percent of the sent ones
 * for the second time (the count is not reset by a period that does better), throttle
 * the vCPUs: cpu-throttle-initial the first time, then cpu-throttle-increment more,
 * up to max-cpu-throttle (mig_throttle_guest_down(), without tailslow). The throttle
 * is lifted when the migration ends, whatever its outcome (cpu_throttle_stop() in
 * migration_iteration_finish()).
 */
import type { AutoConvergeOptions, ThrottleStep } from "./types.js";

const PAGE = 4096;
/** QEMU compares the period against 1000 ms of QEMU_CLOCK_REALTIME */
const PERIOD_NS = 1_000_000_000;

export const AUTO_CONVERGE_DEFAULTS: Readonly<Required<AutoConvergeOptions>> = Object.freeze({
  initialPct: 20,
  incrementPct: 10,
  maxPct: 99,
  triggerThresholdPct: 50,
});

/** What the throttle acts on: the guest's vCPUs. */
export interface ThrottledCpus {
  setCpuThrottle(pct: number): void;
  readonly cpuThrottlePct: number;
}

function resolve(o: boolean | AutoConvergeOptions | undefined): Required<AutoConvergeOptions> | null {
  if (!o) return null;
  const r = { ...AUTO_CONVERGE_DEFAULTS, ...(o === true ? {} : o) };
  for (const [k, v] of Object.entries(r)) {
    if (!Number.isInteger(v) || v < 1 || v > 100) throw new RangeError(`autoConverge.${k} must be an integer percentage 1..100, got ${String(v)}`);
  }
  if (r.initialPct > 99 || r.maxPct > 99) throw new RangeError("autoConverge: a vCPU throttle is at most 99 percent");
  return r;
}

export class AutoConverge {
  readonly steps: ThrottleStep[] = [];
  private periodStartNs = 0;
  private bytesAtPeriodStart = 0;
  private dirtyPagesInPeriod = 0;
  private highCount = 0;

  private constructor(
    private readonly o: Required<AutoConvergeOptions>,
    private readonly cpus: ThrottledCpus,
  ) {}

  /** null when the option is off */
  static create(options: boolean | AutoConvergeOptions | undefined, cpus: ThrottledCpus): AutoConverge | null {
    const o = resolve(options);
    return o ? new AutoConverge(o, cpus) : null;
  }

  /** The period begins with pre-copy (QEMU: the first bitmap sync, at setup). */
  begin(nowNs: number, bytesSent: number): void {
    this.periodStartNs = nowNs;
    this.bytesAtPeriodStart = bytesSent;
    this.dirtyPagesInPeriod = 0;
  }

  /** After a pre-copy sync that found `dirtyPages` newly dirty pages; `bytesSent` counts everything sent so far. */
  afterSync(nowNs: number, dirtyPages: number, bytesSent: number, round: number): void {
    this.dirtyPagesInPeriod += dirtyPages;
    if (nowNs <= this.periodStartNs + PERIOD_NS) return;
    const sent = bytesSent - this.bytesAtPeriodStart;
    const dirtied = this.dirtyPagesInPeriod * PAGE;
    if (dirtied > (sent * this.o.triggerThresholdPct) / 100 && ++this.highCount >= 2) {
      this.highCount = 0;
      const now = this.cpus.cpuThrottlePct;
      const pct = now === 0 ? this.o.initialPct : Math.min(now + this.o.incrementPct, this.o.maxPct);
      this.cpus.setCpuThrottle(pct);
      this.steps.push({ round, timeNs: nowNs, pct });
    }
    this.begin(nowNs, bytesSent);
  }

  /** The migration ended (either way): the vCPUs run at full speed again. */
  stop(): void {
    if (this.cpus.cpuThrottlePct !== 0) this.cpus.setCpuThrottle(0);
  }
}
