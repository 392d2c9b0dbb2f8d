import { describe, expect, it } from "vitest";
import { IRQ_RESTORE_ORDERS, restoreVfioPciDevice, saveVfioPciDevice, type IrqRestoreOrder } from "../../kernel-lib/vmm/device-restore.js";
import { EmulatedMsix } from "../../kernel-lib/vmm/msix-emulation.js";
import { VmmHost } from "../../kernel-lib/vmm/host.js";
import { createEmuBackend } from "../../kernel-lib/backends/emu.js";
import { interruptEvents, pendingInterrupts, scheduleTraffic } from "../../hw-emu/lab/devices.js";
import { RING, SLOTS, guestEnablesMsix, openNic, ringMailbox, startGuestDriver } from "./irq-fixture.js";

/**
 * A NIC migrated by hand: the guest masks the mailbox vector and the mailbox rings (an
 * interrupt pending at the stop), the device is saved, and restored on a second host while
 * packets arrive there every 100 µs; the guest unmasks the mailbox vector 300 µs after RUNNING.
 */
function rehearse(order: IrqRestoreOrder) {
  const a = openNic(31);
  const clock = a.machine.clock;
  const b = openNic(32, clock);
  startGuestDriver(a.host);
  const src = new EmulatedMsix(a.host.devices[0]!.device, a.host.sys, { time: clock });
  guestEnablesMsix(src);
  src.setMasked(2, true);
  ringMailbox(a.host);
  const saved = saveVfioPciDevice(a.host.devices[0]!.device, src);
  b.host.ram.mapping.write(RING, a.host.ram.read(RING, SLOTS * 16));
  const dst = new EmulatedMsix(b.host.devices[0]!.device, b.host.sys, { time: clock });
  const loop = dst.poll(clock, 10_000);
  const model = b.machine.devices[0]!.model;
  const t0 = clock.now;
  const traffic = scheduleTraffic(clock, model, { intervalNs: 100_000, count: 20 });
  const steps = restoreVfioPciDevice(b.host.devices[0]!.device, dst, saved, { order, clock });
  const pendingAfterLoad = dst.pendingVectors();
  clock.advance(300_000);
  dst.setMasked(2, false);
  clock.advance(1_500_000);
  loop.stop();
  traffic.stop();
  return { saved, steps, dst, t0, fires: interruptEvents(model).filter((e) => e.cause === "fire"), devicePending: pendingInterrupts(model).vectors, pendingAfterLoad };
}

describe("saving and restoring a vfio-pci device with its interrupts", () => {
  it("saves the device data, the config header and the VMM's MSI-X with the pending bit", () => {
    const { saved } = rehearse("qemu");
    expect(saved.path).toEqual(["RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"]);
    expect(saved.data.reduce((n, c) => n + c.byteLength, 0)).toBeGreaterThan(64 << 10);
    expect(saved.config).toHaveLength(64);
    expect(saved.config[4]! & 0x6).toBe(0x6);
    expect([...saved.msix.pba]).toEqual([4]);
    expect(saved.p2p).toBe(true);
  });

  it("in QEMU's order: SET_IRQS while the device is in RESUMING, after the table; nothing is lost", () => {
    const r = rehearse("qemu");
    expect(r.steps.map((s) => `${s.step}:${s.state}`)).toEqual([
      "RESUMING:RESUMING",
      "device data:RESUMING",
      "config and MSI-X:RESUMING",
      "SET_IRQS:RESUMING",
      "RUNNING_P2P:RUNNING_P2P",
      "RUNNING:RUNNING",
    ]);
    expect(r.steps[0]!.call).toBe("SET MIG_DEVICE_STATE RESUMING (RUNNING → RUNNING_P2P → STOP → RESUMING)");
    for (let i = 1; i < r.steps.length; i++) expect(r.steps[i]!.startNs).toBe(r.steps[i - 1]!.endNs);
    expect(r.steps[3]!.call).toBe("SET_IRQS MSI-X: eventfds for vectors 0, 1");
    expect(r.pendingAfterLoad).toEqual([2]);
    expect(r.fires.length).toBeGreaterThan(5);
    expect(r.fires.every((e) => e.outcome === "delivered")).toBe(true);
    const delivered = r.dst.events.filter((e) => e.outcome === "delivered");
    expect(delivered.filter((e) => e.cause === "device").reduce((n, e) => n + e.signals, 0)).toBe(r.fires.length);
    expect(delivered.filter((e) => e.cause === "unmask").map((e) => e.vector)).toEqual([2]);
  });

  it("SET_IRQS after RUNNING: what the device raises from RUNNING_P2P until SET_IRQS is dropped, MSI-X being off", () => {
    const r = rehearse("set-irqs-after-running");
    const order = r.steps.map((s) => s.step);
    expect(order.slice(-3)).toEqual(["RUNNING_P2P", "RUNNING", "SET_IRQS"]);
    const p2p = r.steps.find((s) => s.step === "RUNNING_P2P")!;
    const irq = r.steps.find((s) => s.step === "SET_IRQS")!;
    const dropped = r.fires.filter((e) => e.outcome === "dropped-disabled");
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.every((e) => e.time >= p2p.startNs && e.time <= irq.endNs)).toBe(true);
    expect(r.fires.filter((e) => e.time > irq.endNs).every((e) => e.outcome === "delivered")).toBe(true);
    // the VMM's pending bit is not the device's: it still arrives on unmask
    expect(r.dst.events.filter((e) => e.cause === "unmask").map((e) => e.vector)).toEqual([2]);
  });

  it("SET_IRQS before the table, the table copied as bytes: no vector is in use and the device's interrupts stay in its PBA", () => {
    const r = rehearse("set-irqs-before-table");
    expect(r.steps[2]).toMatchObject({ step: "SET_IRQS", call: "SET_IRQS MSI-X: enabled with no vector (vector 0, fd -1)", state: "RESUMING" });
    expect(r.fires.length).toBeGreaterThan(5);
    expect(r.fires.every((e) => e.outcome === "pending")).toBe(true);
    expect(r.devicePending).toEqual([0]);
    expect(r.dst.events.filter((e) => e.cause === "device")).toEqual([]);
    // what was pending in the VMM still comes on unmask: that puts vector 2 in use
    expect(r.dst.events.filter((e) => e.cause === "unmask").map((e) => e.vector)).toEqual([2]);
  });

  it("SET_IRQS before the table with msix_load()'s mask replay: the replay puts the vectors in use, nothing is lost", () => {
    const r = rehearse("set-irqs-before-table-replayed");
    expect(r.fires.every((e) => e.outcome === "delivered")).toBe(true);
    expect(r.devicePending).toEqual([]);
  });

  it("is deterministic, and refuses an unknown order", () => {
    const x = rehearse("qemu");
    const y = rehearse("qemu");
    expect(y.steps).toEqual(x.steps);
    expect(y.dst.events).toEqual(x.dst.events);
    expect(IRQ_RESTORE_ORDERS).toHaveLength(4);
    const { host } = openNic(40);
    const msix = new EmulatedMsix(host.devices[0]!.device, host.sys);
    expect(() => restoreVfioPciDevice(host.devices[0]!.device, msix, x.saved, { order: "backwards" as IrqRestoreOrder })).toThrow(/order must be one of/);
  });

  it("without a clock the steps take no time; a device without migration is named", () => {
    const x = rehearse("qemu");
    const { host } = openNic(41);
    const msix = new EmulatedMsix(host.devices[0]!.device, host.sys);
    const steps = restoreVfioPciDevice(host.devices[0]!.device, msix, x.saved);
    expect(steps.every((s) => s.startNs === 0 && s.endNs === 0)).toBe(true);
    expect(steps.at(-1)!.state).toBe("RUNNING");
    const m = createEmuBackend({ devices: [{ model: "nic", migration: "none" }] });
    const h = VmmHost.open(m, { ramSize: 1 << 20, backend: "iommufd" });
    const mx = new EmulatedMsix(h.devices[0]!.device, h.sys);
    expect(() => saveVfioPciDevice(h.devices[0]!.device, mx)).toThrow(/has no migration driver/);
  });
});
