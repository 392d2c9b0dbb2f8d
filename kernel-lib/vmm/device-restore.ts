/**
 * One assigned vfio-pci device across a migration, step by step, with its interrupts: what
 * the VMM saves on the source and the order it restores it in on the destination.
 *
 * Source (QEMU 10.0: vfio_save_complete_precopy(), then vfio_save_state()): the device goes to
 * STOP_COPY and its data is read until read() returns 0; then the config section: the config
 * header the guest programmed, and the MSI-X table, PBA and Message Control bits the VMM
 * emulates (vmstate_vfio_pci_config: VMSTATE_PCI_DEVICE, VMSTATE_MSIX).
 *
 * Destination, in QEMU's order ("qemu"): RESUMING (vfio_load_setup()); the device data
 * written to the resume fd; the config section loaded (vfio_pci_load_config(): the emulated
 * config, msix_load(), the command register written to the device); MSI-X enabled on the
 * device with VFIO_DEVICE_SET_IRQS (vfio_msix_enable()) while the device is still in
 * RESUMING; then, when the VM starts, RUNNING_P2P (vfio_vmstate_change_prepare(), devices with
 * P2P only) and RUNNING (vfio_vmstate_change()).
 *
 * The other orders are there to show what they cost:
 * - "set-irqs-after-running": SET_IRQS only after the device runs;
 * - "set-irqs-before-table": SET_IRQS before the table has arrived, and the table then copied
 *   in as bytes, without re-running each vector's mask logic;
 * - "set-irqs-before-table-replayed": the same order, with msix_load()'s mask replay.
 */
import type { MigStateName } from "../../hw-emu/uapi/index.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import type { Device } from "../vfio/device.js";
import type { SaveStream, ResumeStream } from "../vfio/migration.js";
import { resolveCosts, type MigrationCosts } from "./costs.js";
import type { EmulatedMsix, MsixSnapshot } from "./msix-emulation.js";

export const IRQ_RESTORE_ORDERS = ["qemu", "set-irqs-after-running", "set-irqs-before-table", "set-irqs-before-table-replayed"] as const;
export type IrqRestoreOrder = (typeof IRQ_RESTORE_ORDERS)[number];

/** bytes of config header the VMM migrates: the command register and the six BARs are in it */
const HEADER_BYTES = 0x40;

export interface SavedVfioPciDevice {
  /** the device's migration data, as read from the save fd */
  data: Uint8Array[];
  /** the config header (64 bytes) as the guest programmed it */
  config: Uint8Array;
  /** the VMM's MSI-X state (QEMU's msix_save()) */
  msix: MsixSnapshot;
  /** the states the device walked to STOP_COPY */
  path: MigStateName[];
  /** the device offers RUNNING_P2P */
  p2p: boolean;
}

function migrationOf(device: Device) {
  if (!device.migration) throw new Error(`${device.name} has no migration driver (VFIO_DEVICE_FEATURE_MIGRATION answered ENOTTY)`);
  return device.migration;
}

/**
 * Stop the device and save it: the VMM first handles what the device signalled while it ran,
 * then moves it to STOP_COPY, reads its data until read() returns 0, and takes the config
 * header and the MSI-X snapshot.
 */
export function saveVfioPciDevice(device: Device, msix: EmulatedMsix): SavedVfioPciDevice {
  const mig = migrationOf(device);
  msix.service();
  const r = mig.set("STOP_COPY");
  const save = r.data as SaveStream | null;
  if (!save) throw new Error(`${device.name}: STOP_COPY opened no save fd (the device was already in STOP_COPY)`);
  const data = save.readAvailable();
  save.close();
  return { data, config: device.config.read(0, HEADER_BYTES), msix: msix.snapshot(), path: r.path, p2p: mig.features.p2p };
}

export interface RestoreStep {
  step: "RESUMING" | "device data" | "config and MSI-X" | "SET_IRQS" | "RUNNING_P2P" | "RUNNING";
  /** what the VMM did, in uAPI terms */
  call: string;
  /** the device's migration state after the step */
  state: MigStateName;
  startNs: number;
  endNs: number;
}

export interface RestoreOptions {
  /** default "qemu" */
  order?: IrqRestoreOrder;
  /** the simulated clock; each step advances it by its cost (without one, steps take no time) */
  clock?: { readonly now: number; advance(ns: number): void };
  /** step costs (the model's: deviceArcNs per arc, configRestoreNs, irqVectorNs per vector) */
  costs?: Partial<MigrationCosts>;
  /** bytes per second at which the device data arrives (default 1.25e9, 10 Gb/s) */
  bandwidth?: number;
}

/**
 * Restore a saved device on a freshly opened destination device (in STOP, its MSI-X off, as
 * vfio-pci leaves it after the open-time reset), with `msix` the destination VMM's emulation
 * for it. Returns the steps in the order they ran, with their simulated times.
 */
export function restoreVfioPciDevice(device: Device, msix: EmulatedMsix, saved: SavedVfioPciDevice, options: RestoreOptions = {}): RestoreStep[] {
  const order = options.order ?? "qemu";
  if (!IRQ_RESTORE_ORDERS.includes(order)) throw new RangeError(`order must be one of ${IRQ_RESTORE_ORDERS.join(", ")}, got "${String(order)}"`);
  const bandwidth = options.bandwidth ?? 1.25e9;
  if (!(bandwidth > 0)) throw new RangeError(`bandwidth must be positive, got ${bandwidth}`);
  const costs = resolveCosts(options.costs);
  const clock = options.clock ?? null;
  const mig = migrationOf(device);
  const steps: RestoreStep[] = [];
  let resume: ResumeStream | null = null;

  /** Run one step; it says what it did and what it costs, and the clock moves on by that much. */
  const run = (step: RestoreStep["step"], fn: () => { call: string; costNs: number }) => {
    const startNs = clock?.now ?? 0;
    const { call, costNs } = fn();
    if (clock && costNs > 0) clock.advance(Math.round(costNs));
    steps.push({ step, call, state: mig.state(), startNs, endNs: clock?.now ?? startNs });
  };
  const arc = (target: "RESUMING" | "RUNNING_P2P" | "RUNNING") =>
    run(target, () => {
      const r = mig.set(target);
      if (target === "RESUMING") resume = r.data as ResumeStream;
      return { call: `SET MIG_DEVICE_STATE ${target} (${r.path.join(" → ")})`, costNs: (r.path.length - 1) * costs.deviceArcNs };
    });
  const writeData = () =>
    run("device data", () => {
      if (!resume) throw new Error(`${device.name}: no resume fd; RESUMING must come first`);
      let bytes = 0;
      for (const c of saved.data) bytes += resume.write(c);
      resume.close();
      return { call: `write() ${bytes} bytes to the resume fd`, costNs: (bytes / bandwidth) * 1e9 };
    });
  const loadConfig = (replayMasks: boolean) =>
    run("config and MSI-X", () => {
      restoreHeader(device, saved.config);
      msix.load(saved.msix, { replayMasks });
      return { call: `config region: command, BARs; ${replayMasks ? "msix_load()" : "table copied as bytes"}`, costNs: costs.configRestoreNs };
    });
  const setIrqs = (when: "if-enabled" | "always") => {
    if (when === "if-enabled" && !msix.enabled) return;
    run("SET_IRQS", () => {
      const used = msix.enableHost();
      const call = used.length > 0 ? `SET_IRQS MSI-X: eventfds for vectors ${used.join(", ")}` : "SET_IRQS MSI-X: enabled with no vector (vector 0, fd -1)";
      return { call, costNs: Math.max(1, used.length) * costs.irqVectorNs };
    });
  };
  const start = () => {
    if (saved.p2p) arc("RUNNING_P2P");
    arc("RUNNING");
  };

  arc("RESUMING");
  writeData();
  switch (order) {
    case "qemu":
      loadConfig(true);
      setIrqs("if-enabled");
      start();
      break;
    case "set-irqs-after-running":
      loadConfig(true);
      start();
      setIrqs("if-enabled");
      break;
    case "set-irqs-before-table":
    case "set-irqs-before-table-replayed":
      setIrqs("always");
      loadConfig(order === "set-irqs-before-table-replayed");
      start();
      break;
  }
  return steps;
}

/** The command register (decoding off while the BARs change) and BARs 0-5, through the config region. */
function restoreHeader(device: Device, header: Uint8Array): void {
  const cfg = device.config;
  const cmd = header[R.PCI_COMMAND]! | (header[R.PCI_COMMAND + 1]! << 8);
  const u16 = (v: number) => new Uint8Array([v & 0xff, (v >>> 8) & 0xff]);
  cfg.write(R.PCI_COMMAND, u16(cmd & ~(R.PCI_COMMAND_IO | R.PCI_COMMAND_MEMORY)));
  for (let b = 0; b < R.PCI_NUM_BARS; b++) {
    const o = R.PCI_BASE_ADDRESS_0 + 4 * b;
    cfg.write(o, header.subarray(o, o + 4));
  }
  cfg.write(R.PCI_COMMAND, u16(cmd));
}
