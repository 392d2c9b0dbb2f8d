/**
 * The peer-to-peer hazard against traffic: one VM, built afresh from the same seed
 * for every point, migrated at each P2P rate with each stop order. A point says how
 * many peer writes the devices made per second before the migration and how many
 * the migration lost; both are lab counts (the DMA engine's and the device models'
 * own), which the VMM cannot see.
 *
 *   const points = await sweepP2pRate({
 *     vm: { memory: "32MiB", devices: [{ model: "nic" }, { model: "nic" }], workload: { doorbellLatencyNs: 50_000 } },
 *     rates: [0, 10_000, 100_000],
 *   });
 */
import { backendFor, migrate } from "./migrate.js";
import { SimulatedVm } from "./simulated-vm.js";
import type { MigrateOptions, SimulatedVmOptions, StopMode } from "./types.js";

export interface P2pSweepOptions {
  /** the VM to migrate; its workload's p2pPerSecond is replaced by each rate */
  vm: SimulatedVmOptions;
  /** peer doorbells per second from each NIC to each other NIC, one point per rate and stop order */
  rates: readonly number[];
  /** stop orders to compare (default ["one-step", "p2p-first"]) */
  stops?: readonly StopMode[];
  /** guest activity before each migration starts, over which the P2P write rate is measured (default 5 ms) */
  runBeforeNs?: number;
  /** further migrate() options; the stop order comes from `stops` */
  migrate?: Omit<MigrateOptions, "stop">;
}

export interface P2pSweepPoint {
  /** the offered rate: doorbells per second from each NIC to each other NIC */
  p2pPerSecond: number;
  stop: StopMode;
  /** peer writes the devices initiated per second, all pairs together, while the VM ran before the migration */
  p2pWritesPerSecond: number;
  /** peer writes a device refused during the migration (lostP2pWrites.total) */
  lostP2pWrites: number;
  /** peer writes accepted by a device while it was in RUNNING_P2P or PRE_COPY_P2P */
  acceptedWhileQuiesced: number;
  downtimeNs: number;
  ok: boolean;
  error?: string;
}

const STOPS: readonly StopMode[] = ["one-step", "p2p-first"];
const QUIESCED = new Set(["RUNNING_P2P", "PRE_COPY_P2P"]);

function validate(o: P2pSweepOptions): { stops: readonly StopMode[]; runBeforeNs: number } {
  if (!Array.isArray(o.rates) || o.rates.length === 0) throw new RangeError("sweepP2pRate: rates must be a non-empty array of doorbells per second");
  for (const r of o.rates) {
    if (typeof r !== "number" || !Number.isFinite(r) || r < 0) throw new RangeError(`sweepP2pRate: every rate must be a finite number >= 0, got ${String(r)}`);
  }
  const stops = o.stops ?? STOPS;
  if (stops.length === 0) throw new RangeError("sweepP2pRate: stops must name at least one stop order");
  for (const s of stops) {
    if (!STOPS.includes(s)) throw new RangeError(`sweepP2pRate: stop must be "one-step" or "p2p-first", got "${String(s)}"`);
  }
  const runBeforeNs = o.runBeforeNs ?? 5_000_000;
  if (!Number.isSafeInteger(runBeforeNs) || runBeforeNs <= 0) throw new RangeError(`sweepP2pRate: runBeforeNs must be a positive integer (the P2P rate is measured over it), got ${runBeforeNs}`);
  return { stops, runBeforeNs };
}

/** Peer writes the VM's current devices have initiated so far (lab view). */
function p2pInitiated(vm: SimulatedVm): number {
  return vm.host.devices.reduce((n, d) => n + d.model.counters.p2pInitiated, 0);
}

/** Migrate the VM once per rate and stop order; points come rate by rate, in the order of `stops`. */
export async function sweepP2pRate(options: P2pSweepOptions): Promise<P2pSweepPoint[]> {
  const { stops, runBeforeNs } = validate(options);
  const points: P2pSweepPoint[] = [];
  for (const rate of options.rates) {
    for (const stop of stops) {
      const vm = new SimulatedVm({ ...options.vm, workload: { ...options.vm.workload, p2pPerSecond: rate } });
      const tracking = options.migrate?.tracking;
      vm.boot(tracking ? backendFor(tracking, vm) : undefined);
      const before = p2pInitiated(vm);
      vm.run(runBeforeNs);
      const p2pWritesPerSecond = ((p2pInitiated(vm) - before) * 1e9) / runBeforeNs;
      const r = await migrate(vm, { ...options.migrate, stop });
      points.push({
        p2pPerSecond: rate,
        stop,
        p2pWritesPerSecond,
        lostP2pWrites: r.lostP2pWrites.total,
        acceptedWhileQuiesced: r.p2pArrivals.filter((a) => QUIESCED.has(a.state)).reduce((n, a) => n + a.accepted, 0),
        downtimeNs: r.downtimeNs,
        ok: r.ok,
        ...(r.error === undefined ? {} : { error: r.error }),
      });
    }
  }
  return points;
}
