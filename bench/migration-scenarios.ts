/**
 * Random migrations for property checks: device mixes (with faulty devices),
 * guest workloads, link speeds, tracking and stop modes, and aborts injected at
 * random points. Shared by test/vmm/property.test.ts and the migration-property
 * benchmark, so both check the same space.
 */
import fc from "fast-check";
import { FAULT_ARCS, FAULT_RULES, type FaultRule } from "../hw-emu/hw/devices/faulty.js";
import type { MigrationScenario } from "../kernel-lib/vmm/scenario.js";
import type { AbortPoint, VmDeviceConfig } from "../kernel-lib/vmm/types.js";

/** Rules the accelerator can break (it has no P2P and no DMA log). */
const ACCEL_FAULTS: FaultRule[] = ["dma-after-stop", "short-stream", "corrupt-stream", "arc-fails-to-error"];
const PHASES = ["setup", "pre-copy", "quiesce", "stop-copy", "resume", "irq-restore", "run"] as const;

/** `arb` with probability `p`, else `none` */
function sometimes<T, N>(p: number, arb: fc.Arbitrary<T>, none: N): fc.Arbitrary<T | N> {
  return fc.oneof({ arbitrary: fc.constant(none), weight: Math.round(100 * (1 - p)) }, { arbitrary: arb, weight: Math.round(100 * p) });
}

/** about one device in six breaks a rule */
const fault = (rules: readonly FaultRule[]) =>
  sometimes(
    0.15,
    fc.record({
      faulty: fc.constantFrom(...rules),
      faultyOn: fc.constantFrom("source" as const, "destination" as const, "both" as const),
      arc: fc.constantFrom(...FAULT_ARCS),
      corruptAt: fc.integer({ min: 0, max: 60_000 }),
    }),
    null,
  );

const nic = fc.record({
  queues: fc.constantFrom(1, 2, 2, 3),
  stateSize: fc.constantFrom(16 << 10, 64 << 10, 256 << 10),
  preCopy: fc.boolean(),
  masked: sometimes(0.3, fc.integer({ min: 0, max: 1 }), null),
  fault: fault(FAULT_RULES),
});

const accel = fc.record({
  preCopy: fc.boolean(),
  masked: sometimes(0.3, fc.integer({ min: 0, max: 1 }), null),
  fault: fault(ACCEL_FAULTS),
});

type Fault = { faulty: FaultRule; faultyOn: "source" | "destination" | "both"; arc: (typeof FAULT_ARCS)[number]; corruptAt: number } | null;

function withFault(d: VmDeviceConfig, f: Fault): VmDeviceConfig {
  if (!f) return d;
  const faultyOptions = f.faulty === "arc-fails-to-error" ? { arc: f.arc } : f.faulty === "corrupt-stream" ? { corruptAt: f.corruptAt } : {};
  return { ...d, faulty: f.faulty, faultyOn: f.faultyOn, faultyOptions };
}

const device: fc.Arbitrary<VmDeviceConfig> = fc.oneof(
  nic.map((n) => withFault({ model: "nic", queues: n.queues, stateSize: n.stateSize, preCopy: n.preCopy, maskedVectors: n.masked === null ? [] : [n.masked] }, n.fault as Fault)),
  accel.map((a) => withFault({ model: "accel", preCopy: a.preCopy, maskedVectors: a.masked === null ? [] : [a.masked] }, a.fault as Fault)),
);

/** about a third of the migrations get an abort injected somewhere */
const abortPoint: fc.Arbitrary<AbortPoint | undefined> = sometimes(
  0.35,
  fc.oneof(
    fc.constantFrom(...PHASES),
    fc.record({ phase: fc.constant("pre-copy" as const), iteration: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ phase: fc.constantFrom(...PHASES), device: fc.integer({ min: 0, max: 3 }) }),
  ),
  undefined,
);

/** A random migration scenario, small enough to run in tens of milliseconds. */
export function migrationScenario(): fc.Arbitrary<MigrationScenario> {
  return fc
    .record({
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      memory: fc.constantFrom("16MiB", "32MiB", "64MiB"),
      devices: fc.array(device, { minLength: 0, maxLength: 4 }),
      pagesPerSecond: fc.constantFrom(0, 5_000, 20_000, 60_000),
      packetsPerSecond: fc.constantFrom(0, 1_000, 5_000),
      p2pPerSecond: fc.constantFrom(0, 5_000, 50_000),
      jobsPerSecond: fc.constantFrom(0, 500, 2_000),
      doorbellLatencyNs: fc.integer({ min: 1_000, max: 50_000 }),
      tracking: fc.constantFrom("iommufd" as const, "type1" as const, "device-log" as const, "merged" as const),
      stop: fc.constantFrom("p2p-first" as const, "one-step" as const),
      bandwidth: fc.constantFrom(128 * 2 ** 20, 1.25e9, 12.5e9),
      downtimeLimitMs: fc.constantFrom(30, 300, 1000),
      abortAt: abortPoint,
      runBeforeNs: fc.integer({ min: 1_000_000, max: 20_000_000 }),
      backend: fc.constantFrom("iommufd" as const, "type1" as const),
    })
    .map(
      (r): MigrationScenario => ({
        seed: r.seed,
        memory: r.memory,
        devices: r.devices,
        workload: { pagesPerSecond: r.pagesPerSecond, packetsPerSecond: r.packetsPerSecond, p2pPerSecond: r.p2pPerSecond, jobsPerSecond: r.jobsPerSecond, doorbellLatencyNs: r.doorbellLatencyNs },
        iommu: r.tracking === "type1" ? "type1" : r.tracking === "iommufd" ? "iommufd" : r.backend,
        runBeforeNs: r.runBeforeNs,
        migrate: { tracking: r.tracking, stop: r.stop, bandwidth: r.bandwidth, downtimeLimitMs: r.downtimeLimitMs, abortAt: r.abortAt, maxIterations: 8 },
      }),
    );
}
