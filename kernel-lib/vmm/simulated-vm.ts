/**
 * A simulated VM on an emulated host: guest RAM (the VMM's anonymous mmap,
 * DMA-mapped for its devices), a guest that dirties it and drives the devices,
 * and the passthrough devices themselves. `migrate(vm, ...)` moves it to a new
 * emulated host that shares the simulated clock.
 *
 *   const vm = new SimulatedVm({ memory: "4GiB", devices: [{ model: "nic" }, { model: "accel" }], seed: 7 });
 *   vm.run(50e6);                       // 50 ms of guest activity
 *   const r = await migrate(vm, { tracking: "iommufd" });
 */
import { createEmuBackend, type DeviceSpec, type EmulatedMachine } from "../backends/emu.js";
import { Clock } from "../../hw-emu/sim/clock.js";
import { Guest, type ResolvedWorkload } from "./guest.js";
import { VmmHost } from "./host.js";
import type { IommuBackend, SimulatedVmOptions, VmDeviceConfig } from "./types.js";

const UNITS: Record<string, number> = { "": 1, b: 1, k: 2 ** 10, kib: 2 ** 10, m: 2 ** 20, mib: 2 ** 20, g: 2 ** 30, gib: 2 ** 30, t: 2 ** 40, tib: 2 ** 40 };

/** Bytes from a number or a size such as "4GiB", "512 MiB", "1T". */
export function parseSize(v: number | string, what = "size"): number {
  let n: number;
  if (typeof v === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
    const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) throw new RangeError(`${what} "${v}" is not a size like "4GiB", "512 MiB" or "1TiB"`);
    n = Number(m[1]) * unit;
  } else {
    n = v;
  }
  if (n === 0 && typeof v === "number") {
    throw new RangeError(`${what} is 0; note that JavaScript's << works on 32 bits, so 4 << 30 is 0: write 4 * 2 ** 30 or "4GiB"`);
  }
  if (!Number.isSafeInteger(n) || n <= 0 || n % 4096 !== 0) throw new RangeError(`${what} must be a positive multiple of 4096 bytes, got ${n}`);
  if (n > 2 ** 43) throw new RangeError(`${what} of ${n} bytes exceeds the 8 TiB the emulated host supports`);
  return n;
}

function resolveWorkload(memory: number, w: SimulatedVmOptions["workload"] = {}): ResolvedWorkload {
  const r: ResolvedWorkload = {
    pagesPerSecond: w.pagesPerSecond ?? 20_000,
    workingSet: w.workingSet ?? Math.min(Math.floor(memory / 4 / 4096) * 4096, 2 ** 30),
    locality: w.locality ?? { kind: "uniform" },
    packetsPerSecond: w.packetsPerSecond ?? 2000,
    churnPages: w.churnPages ?? 1,
    p2pPerSecond: w.p2pPerSecond ?? 0,
    jobsPerSecond: w.jobsPerSecond ?? 500,
    tickNs: w.tickNs ?? 1_000_000,
    doorbellLatencyNs: w.doorbellLatencyNs ?? 20_000,
  };
  for (const [k, v] of Object.entries(r)) {
    if (typeof v === "number" && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`workload.${k} must be a non-negative number, got ${v}`);
  }
  if (!Number.isSafeInteger(r.tickNs) || r.tickNs <= 0) throw new RangeError("workload.tickNs must be a positive integer");
  if (!Number.isSafeInteger(r.doorbellLatencyNs)) throw new RangeError("workload.doorbellLatencyNs must be an integer");
  return r;
}

export class SimulatedVm {
  readonly clock = new Clock();
  readonly memory: number;
  readonly seed: number;
  readonly name: string;
  readonly deviceConfigs: readonly VmDeviceConfig[];
  readonly guest: Guest;
  readonly iommuDirtyTracking: boolean;
  /** the first host the VM ran on */
  readonly source: EmulatedMachine;
  /** every host the VM has run on, oldest first */
  readonly machines: EmulatedMachine[] = [];
  private backend: IommuBackend | null;
  private current: VmmHost | null = null;
  private migrations = 0;

  constructor(options: SimulatedVmOptions) {
    this.memory = parseSize(options.memory, "memory");
    this.seed = options.seed ?? 1;
    if (!Number.isSafeInteger(this.seed)) throw new RangeError(`seed must be a safe integer, got ${this.seed}`);
    this.name = options.name ?? "vm";
    this.deviceConfigs = (options.devices ?? []).map((d) => ({ ...d }));
    for (const d of this.deviceConfigs) {
      if (d.model !== "nic" && d.model !== "accel") {
        throw new Error(`device model "${String(d.model)}" is not supported by the simulated VM: it moves VFs with DMA, so use "nic" or "accel"`);
      }
    }
    this.backend = options.iommu ?? null;
    this.iommuDirtyTracking = options.iommuDirtyTracking ?? true;
    this.guest = new Guest(this.clock, this.seed ^ 0x6a09e667, this.memory, this.deviceConfigs, resolveWorkload(this.memory, options.workload));
    this.source = this.createMachine("source");
  }

  /** Device specs for a new host; `side` picks where `faultyOn` puts the faults. */
  private specs(side: "source" | "destination"): DeviceSpec[] {
    return this.deviceConfigs.map((d, i) => {
      const on = d.faultyOn ?? "source";
      const faulty = d.faulty && (on === "both" || on === side) ? d.faulty : undefined;
      return {
        model: d.model,
        name: d.name ?? `${d.model}${i}`,
        queues: d.queues,
        stateSize: d.stateSize,
        preCopy: d.preCopy,
        ...(faulty ? { faulty, faultyOptions: d.faultyOptions } : {}),
      };
    });
  }

  /** @internal a new emulated host on the VM's clock */
  createMachine(side: "source" | "destination"): EmulatedMachine {
    const n = this.machines.length;
    const m = createEmuBackend({
      clock: this.clock,
      seed: (this.seed * 31 + n * 0x9e3779b1) % 2 ** 31,
      devices: this.specs(side),
      iommuDirtyTracking: this.iommuDirtyTracking,
      name: n === 0 ? `${this.name}-host0` : `${this.name}-host${n}`,
    });
    this.machines.push(m);
    return m;
  }

  /** the IOMMU backend the VM's devices sit behind (null before boot, unless given) */
  get iommu(): IommuBackend | null {
    return this.backend;
  }

  get booted(): boolean {
    return this.current !== null;
  }

  /** Open the devices, map RAM and start the guest (once). A backend given here must match the VM's. */
  boot(backend?: IommuBackend): this {
    if (this.current) {
      if (backend && backend !== this.current.backend) {
        throw new Error(`the VM's devices sit behind ${this.current.backend}; ${backend} would need a VM created with iommu: "${backend}"`);
      }
      return this;
    }
    if (backend && this.backend && backend !== this.backend) {
      throw new Error(`the VM was created with iommu: "${this.backend}", not "${backend}"`);
    }
    this.backend = backend ?? this.backend ?? "iommufd";
    this.current = this.openHost(this.source);
    this.guest.boot(this.current);
    return this;
  }

  /** @internal the VMM side on a machine of this VM */
  openHost(machine: EmulatedMachine): VmmHost {
    return VmmHost.open(machine, { ramSize: this.memory, backend: this.backend ?? "iommufd" });
  }

  /** The VMM host the VM runs on now (booting it on first use). */
  get host(): VmmHost {
    if (!this.current) this.boot();
    return this.current!;
  }

  /** The emulated machine the VM runs on now. */
  get machine(): EmulatedMachine {
    return this.host.machine;
  }

  /** @internal the destination took over */
  switchTo(host: VmmHost): void {
    this.current = host;
    this.guest.attach(host);
    this.migrations++;
  }

  /** migrations that completed */
  get migrationCount(): number {
    return this.migrations;
  }

  /** Let `ns` of simulated time pass (booting first if needed). */
  run(ns: number): this {
    this.boot();
    this.clock.advance(Math.round(ns));
    return this;
  }

  /** current simulated time in ns */
  get now(): number {
    return this.clock.now;
  }

  /** Digest of the guest RAM's content on the current host (lab view). */
  memoryDigest(): string {
    return this.host.ram.digest();
  }
}
