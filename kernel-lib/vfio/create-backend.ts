/**
 * createBackend(): the one place a notebook picks its backend. The runner says which one
 * (VFIO_WORKBENCH_BACKEND, set by `check --backend` and `run --backend`); the emulator is the
 * default. Devices are asked for by what they must offer, not by number, and found the same way
 * on both: by walking sysfs and probing each VFIO device's VFIO_DEVICE_FEATURE_MIGRATION.
 */
import type { Syscalls } from "../../hw-emu/uapi/index.js";
import { VFIO_MIGRATION } from "../../hw-emu/uapi/index.js";
import { BACKEND_ENV, type BackendKind } from "../backends/backend-kind.js";
import { createEmuBackend, type DeviceSpec, type EmulatedMachine, type MachineOptions } from "../backends/emu.js";
import { createNativeBackend } from "../backends/native/index.js";
import { Container, Group } from "./container.js";
import { listMdevDevices, listPciDevices } from "./discovery.js";
import { VfioError } from "./errors.js";

export type MigrationFeature = "STOP_COPY" | "P2P" | "PRE_COPY";
const FEATURES: readonly MigrationFeature[] = ["STOP_COPY", "P2P", "PRE_COPY"];

/** One device a notebook needs. */
export interface DeviceRequest extends Partial<DeviceSpec> {
  /** the migration features it must offer (VFIO_MIGRATION_*); none: any VFIO device */
  features?: readonly MigrationFeature[];
}

export interface BackendRequest extends Omit<MachineOptions, "devices"> {
  devices: readonly DeviceRequest[];
  /** which backend; default: what the runner set in VFIO_WORKBENCH_BACKEND, else "emu" */
  kind?: BackendKind;
}

/** A device found for a request, as userspace knows it: by sysfs, not by model. */
export interface FoundDevice {
  /** PCI address, or the mdev's UUID */
  address: string;
  group: number;
  /** /dev/vfio/devices/vfioN, or null when the kernel has no VFIO cdev for it */
  cdev: string | null;
  /** the bound driver (vfio-pci, a variant driver, or an mdev's parent driver) */
  driver: string | null;
  /** the migration features VFIO_DEVICE_FEATURE_MIGRATION reports */
  migration: MigrationFeature[];
}

export interface Backend {
  kind: BackendKind;
  sys: Syscalls;
  /** one per request, in the order asked */
  devices: FoundDevice[];
  /** the emulated machine, for cells tagged emulator-only; null on the native backend */
  machine: EmulatedMachine | null;
}

export class BackendError extends Error {
  override name = "BackendError";
}

/** The backend the runner asked for, or the emulator. */
export function backendKindFromEnv(env: Readonly<Record<string, string | undefined>> = typeof process === "undefined" ? {} : process.env): BackendKind {
  const value = env[BACKEND_ENV];
  if (value === undefined || value === "" || value === "emu") return "emu";
  if (value === "native") return "native";
  throw new BackendError(`${BACKEND_ENV} must be "emu" or "native", got ${JSON.stringify(value)}`);
}

function featuresOf(flags: number): MigrationFeature[] {
  return FEATURES.filter((f) => (flags & VFIO_MIGRATION.bits[f]) !== 0);
}

/** The PCI devices, or none on a host without a PCI bus (no /sys/bus/pci, as the emulator with mdevs only). */
function pciDevicesOrNone(sys: Syscalls): ReturnType<typeof listPciDevices> {
  try {
    return listPciDevices(sys);
  } catch (err) {
    if (err instanceof VfioError && err.code === "ENOENT") return [];
    throw err;
  }
}

/** Every VFIO device on the host, with the migration features it reports. */
export function probeVfioDevices(sys: Syscalls): FoundDevice[] {
  const candidates = [
    ...listMdevDevices(sys).map((m) => ({ address: m.uuid, group: m.iommuGroup, cdev: m.cdev, driver: m.driver })),
    ...pciDevicesOrNone(sys)
      .filter((p) => p.driver !== null && p.driver.endsWith("vfio-pci"))
      .map((p) => ({ address: p.address, group: p.iommuGroup, cdev: p.cdev, driver: p.driver })),
  ];
  const found: FoundDevice[] = [];
  for (const c of candidates) {
    if (c.group === null) continue;
    // the order the kernel requires: the group joins the container before the IOMMU is set
    const opened: { close(): void }[] = [];
    try {
      const container = Container.open(sys);
      opened.push(container);
      const group = Group.open(sys, c.group);
      opened.push(group);
      group.setContainer(container);
      container.setIommu();
      const device = group.device(c.address);
      opened.push(device);
      found.push({ address: c.address, group: c.group, cdev: c.cdev, driver: c.driver, migration: device.migration ? featuresOf(device.migration.flags) : [] });
    } catch {
      // a device another process holds, or a group that is not viable, is not one to use
    } finally {
      for (const fd of opened.reverse()) fd.close();
    }
  }
  return found;
}

/** The request in words; the model matters only on the emulator (a host's devices are found by what they offer). */
function describe(request: DeviceRequest, onEmulator: boolean): string {
  const what = request.model && onEmulator ? `an emulated ${request.model}` : "a device";
  if (request.migration === "none") return `${what} without a migration driver`;
  return request.features && request.features.length > 0 ? `${what} offering ${request.features.join(", ")}` : what;
}

/** Whether a device meets a request: it offers every feature asked, or, for migration "none", has no v2 migration at all. */
function meets(request: DeviceRequest, device: FoundDevice): boolean {
  if (request.migration === "none") return device.migration.length === 0;
  return (request.features ?? []).every((f) => device.migration.includes(f));
}

const EMULATOR = "the emulator";

/** Assigns each request the first device not yet taken that offers what it asks. */
export function matchDevices(requests: readonly DeviceRequest[], available: readonly FoundDevice[], where: string): FoundDevice[] {
  const taken = new Set<FoundDevice>();
  return requests.map((request) => {
    const match = available.find((d) => !taken.has(d) && meets(request, d));
    if (!match) {
      const seen = available.map((d) => `${d.address} (${d.migration.join(", ") || "no migration"})`).join("; ") || "none";
      throw new BackendError(`createBackend: ${where} has no free device for ${describe(request, where === EMULATOR)}; VFIO devices found: ${seen}`);
    }
    taken.add(match);
    return match;
  });
}

/** The emulated models, in the order a request without a model tries them. */
const MODELS: readonly DeviceSpec["model"][] = ["nic", "accel", "serial"];

/** The emulated model for a request: the one named, else the first model that offers what is asked. */
function emulatedSpec(request: DeviceRequest, seed: number | undefined): DeviceSpec {
  const { features: _features, ...spec } = request;
  if (spec.model) return spec as DeviceSpec;
  // ask each model, as userspace asks a device: plug one of each into a scratch machine and probe
  const scratch = createEmuBackend({ seed, devices: MODELS.map((model) => ({ ...spec, model })) });
  const position = (d: FoundDevice) => scratch.devices.findIndex((m) => m.address === d.address);
  const offered = probeVfioDevices(scratch.sys).sort((a, b) => position(a) - position(b));
  const [found] = matchDevices([request], offered, EMULATOR);
  return { ...spec, model: MODELS[scratch.devices.findIndex((d) => d.address === found!.address)]! };
}

/**
 * The backend a notebook's cells use: the emulator with devices that offer what each request
 * asks, or /dev/vfio's devices that do. `kind` (or the runner's setting) picks.
 */
export function createBackend(request: BackendRequest): Backend {
  const kind = request.kind ?? backendKindFromEnv();
  const { devices: requests, kind: _kind, ...machineOptions } = request;
  if (kind === "native") {
    const sys = createNativeBackend();
    return { kind, sys, devices: matchDevices(requests, probeVfioDevices(sys), "this host"), machine: null };
  }
  const machine = createEmuBackend({ ...machineOptions, devices: requests.map((r) => emulatedSpec(r, machineOptions.seed)) });
  const found = probeVfioDevices(machine.sys);
  // each request gets the device plugged for it, in order, and a model named outright must offer what was asked too
  const devices = machine.devices.map((d, i) => matchDevices([requests[i]!], found.filter((f) => f.address === d.address), EMULATOR)[0]!);
  return { kind, sys: machine.sys, devices, machine };
}
