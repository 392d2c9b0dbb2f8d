/**
 * One migration, checked end to end with the lab's eyes (which the VMM does not
 * have). Property tests and the `migration-property` benchmark generate scenarios
 * and call `checkScenario`; a notebook can call it to see why a combination of
 * devices, faults and tracking holds up or does not.
 *
 * After a successful migration:
 *  - the destination's guest RAM, when its devices have loaded their state, has the
 *    same content digest as the source's RAM at the switchover instant;
 *  - every device's internal state (its save() snapshot) is the same on both sides
 *    at those instants;
 *  - no interrupt was lost, and with the p2p-first stop no peer write was lost;
 *  - the VM runs on the destination, its devices RUNNING.
 * Two fault/tracking combinations are expected to break the first two points, since
 * no VMM could notice: a device that does DMA after STOP under type1 tracking (type1
 * reports everything dirty, so the post-stop check cannot tell), and a device that
 * misses a dirty bit when its own log is the only tracker of its writes.
 *
 * After a failed one (workloads frozen at the abort, so only devices act):
 *  - every source device is RUNNING, and the VM runs on the source;
 *  - no interrupt was lost, unless a device had to be reset;
 *  - every source page either has the content it had when the migration failed or
 *    was written since by a device's DMA (the devices' own DMA traces): nothing of
 *    the migration machinery wrote the source's memory.
 */
import { sha256Hex } from "../../hw-emu/sim/digest.js";
import { lab } from "../backends/emu.js";
import { migrate } from "./migrate.js";
import { SimulatedVm } from "./simulated-vm.js";
import type { GuestWorkloadConfig, IommuBackend, MigrateOptions, MigrationResult, VmDeviceConfig } from "./types.js";

export interface MigrationScenario {
  seed: number;
  memory: number | string;
  devices: VmDeviceConfig[];
  workload?: GuestWorkloadConfig;
  iommu?: IommuBackend;
  /** guest activity before the migration starts (ns) */
  runBeforeNs: number;
  migrate: Omit<MigrateOptions, "hooks" | "freezeWorkloadsOnAbort">;
}

export interface ScenarioReport {
  /** the migration itself succeeded */
  migrated: boolean;
  /** broken expectations; empty when the scenario holds */
  violations: string[];
  /** the scenario is one where source and destination may legitimately differ (see the module comment) */
  divergenceExpected: boolean;
  result: MigrationResult;
}

const sha = (b: Uint8Array) => sha256Hex(b);

/** Whether a successful migration may copy a stale page or device state without anyone noticing. */
export function divergenceExpected(s: MigrationScenario): boolean {
  const onSource = (d: VmDeviceConfig, rule: lab.FaultRule) => d.faulty === rule && (d.faultyOn ?? "source") !== "destination";
  const tracking = s.migrate.tracking ?? (s.iommu === "type1" ? "type1" : "iommufd");
  const allLog = s.devices.every((d) => d.model === "nic");
  // with type1 among the trackers nothing can tell a page written after the stop
  const type1 = tracking === "type1" || (s.iommu === "type1" && (tracking === "merged" || (tracking === "device-log" && !allLog)));
  if (type1 && s.devices.some((d) => onSource(d, "dma-after-stop"))) return true;
  // the device log is a device's only tracker when every device can log (no IOMMU tracker is added)
  if (tracking === "device-log" && allLog && s.devices.some((d) => onSource(d, "dirty-page-not-logged"))) return true;
  return false;
}

export async function checkScenario(s: MigrationScenario): Promise<ScenarioReport> {
  const vm = new SimulatedVm({ memory: s.memory, devices: s.devices, seed: s.seed, workload: s.workload, iommu: s.iommu });
  vm.run(s.runBeforeNs);
  const source = vm.host;
  const violations: string[] = [];
  let atSwitchover: { ram: string; devices: string[] } | null = null;
  let atLoad: { ram: string; devices: string[] } | null = null;
  let atAbort: { time: number; pages: Map<number, number> } | null = null;

  const result = await migrate(vm, {
    ...s.migrate,
    freezeWorkloadsOnAbort: true,
    hooks: {
      switchover: () => {
        atSwitchover = { ram: source.ram.digest(), devices: source.devices.map((d) => sha(lab.deviceSnapshot(d.entry.model))) };
      },
      destinationLoaded: ({ destination }) => {
        atLoad = { ram: destination!.ram.digest(), devices: destination!.devices.map((d) => sha(lab.deviceSnapshot(d.entry.model))) };
      },
      aborted: () => {
        const pages = new Map<number, number>();
        for (const p of source.machine.lab.pageHashes(source.ram.hostBase, source.ram.size)) pages.set(p.gpa, p.hash);
        atAbort = { time: vm.clock.now, pages };
      },
    },
  });
  const expectDivergence = divergenceExpected(s);

  if (result.ok) {
    const sw = atSwitchover as { ram: string; devices: string[] } | null;
    const ld = atLoad as { ram: string; devices: string[] } | null;
    if (!sw || !ld) violations.push("the switchover or destination-loaded instant was never reached");
    else if (!expectDivergence) {
      if (sw.ram !== ld.ram) violations.push(`guest RAM differs: source ${sw.ram} at switchover, destination ${ld.ram} after load`);
      sw.devices.forEach((h, i) => {
        if (h !== ld.devices[i]) violations.push(`device ${i} (${s.devices[i]!.model}) state differs between source and destination`);
      });
    }
    if (vm.host === source) violations.push("the VM still runs on the source after a successful migration");
    for (const d of vm.host.devices) {
      const st = d.migration.state();
      if (st !== "RUNNING") violations.push(`destination ${d.name} is ${st}, not RUNNING`);
    }
    if (result.interrupts.lost > 0) violations.push(`${result.interrupts.lost} interrupts were lost`);
    const p2pFault = s.devices.some((d) => d.faulty === "p2p-during-running-p2p");
    if (result.stop === "p2p-first" && !p2pFault && result.lostP2pWrites.total > 0) violations.push(`${result.lostP2pWrites.total} peer writes were lost with the p2p-first stop`);
  } else {
    if (vm.host !== source) violations.push("the VM left the source although the migration failed");
    if (!vm.guest.running) violations.push("the guest's vCPUs did not resume on the source");
    for (const d of source.devices) {
      const st = d.migration.state();
      if (st !== "RUNNING") violations.push(`source ${d.name} is ${st} after the failed migration, not RUNNING`);
    }
    // a reset device forgets what it held pending; otherwise everything raised must reach the guest
    const reset = result.warnings.some((w) => w.endsWith("; reset"));
    if (!reset && result.interrupts.lost > 0) violations.push(`${result.interrupts.lost} interrupts were lost although the source recovered`);
    const ab = atAbort as { time: number; pages: Map<number, number> } | null;
    if (!ab) violations.push("the aborted hook was not called");
    else {
      const touched = new Set<number>();
      for (const d of source.devices) {
        for (const e of lab.modelOf(d.entry.model).dmaTrace) {
          if (e.time < ab.time || e.op !== "write" || e.status !== "ok" || e.p2p) continue;
          for (let p = Math.floor(e.iova / 4096); p <= Math.floor((e.iova + e.length - 1) / 4096); p++) touched.add(source.ram.hostBase + p * 4096);
        }
      }
      const now = source.machine.lab.pageHashes(source.ram.hostBase, source.ram.size);
      const seen = new Set<number>();
      for (const p of now) {
        seen.add(p.gpa);
        const before = ab.pages.get(p.gpa);
        const same = before === undefined ? p.hash === lab.ZERO_PAGE_HASH[0] : before === p.hash;
        if (!same && !touched.has(p.gpa)) violations.push(`source page 0x${(p.gpa - source.ram.hostBase).toString(16)} changed during the abort without a device writing it`);
      }
      for (const gpa of ab.pages.keys()) if (!seen.has(gpa)) violations.push(`source page 0x${(gpa - source.ram.hostBase).toString(16)} disappeared`);
    }
  }
  return { migrated: result.ok, violations, divergenceExpected: expectDivergence, result };
}
