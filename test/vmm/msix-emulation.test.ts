import { describe, expect, it } from "vitest";
import { EmulatedMsix } from "../../kernel-lib/vmm/msix-emulation.js";
import { VmmHost } from "../../kernel-lib/vmm/host.js";
import { createEmuBackend } from "../../kernel-lib/backends/emu.js";
import { readInterruptCapabilities } from "../../kernel-lib/vfio/pci-capabilities.js";
import { interruptEvents, msixTable, pendingInterrupts, triggerTraffic } from "../../hw-emu/lab/devices.js";
import { guestEnablesMsix, guestMessage, openNic, ringMailbox, startGuestDriver } from "./irq-fixture.js";

function setup(seed = 5) {
  const { machine, host } = openNic(seed);
  startGuestDriver(host);
  const msix = new EmulatedMsix(host.devices[0]!.device, host.sys, { time: machine.clock });
  const model = machine.devices[0]!.model;
  return { machine, host, msix, model };
}

describe("EmulatedMsix: the VMM's MSI-X table and PBA for a vfio-pci device", () => {
  it("reads the capability through the config region; the table starts masked, MSI-X off, nothing on the device", () => {
    const { msix, model } = setup();
    expect(msix.vectors).toBe(3);
    expect(msix.cap).toMatchObject({ tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000, enabled: false });
    expect(msix.noresize).toBe(true);
    for (let v = 0; v < 3; v++) expect(msix.entry(v)).toEqual({ address: 0n, data: 0, masked: true });
    expect(msix.enabled).toBe(false);
    expect(msix.hostEnabled).toBe(false);
    expect(msix.usedVectors).toEqual([]);
    expect(msixTable(model).every((e) => e.masked)).toBe(true);
  });

  it("enabling MSI-X with vectors unmasked gives each an eventfd on the device; the device's table holds the host's messages", () => {
    const { msix, model } = setup();
    guestEnablesMsix(msix);
    expect(msix.hostEnabled).toBe(true);
    expect(msix.usedVectors).toEqual([0, 1, 2]);
    const hw = msixTable(model);
    expect(hw.map((e) => e.masked)).toEqual([false, false, false]);
    for (const [v, e] of hw.entries()) {
      expect(e.address).toBe(0xfee0_0000n);
      expect(e.data).not.toBe(guestMessage(v).data);
    }
  });

  it("delivers the route's message for a device interrupt on an unmasked vector", () => {
    const { msix, model } = setup();
    guestEnablesMsix(msix);
    // two packets, two interrupts from the device; one read of the eventfd counts both
    triggerTraffic(model, { packets: 2 });
    expect(msix.service()).toBe(1);
    expect(msix.events).toEqual([{ timeNs: 0, vector: 0, cause: "device", outcome: "delivered", signals: 2, ...guestMessage(0) }]);
    expect(interruptEvents(model).filter((e) => e.outcome === "delivered")).toHaveLength(2);
  });

  it("a masked vector's interrupt sets the VMM's PBA bit, and the guest's unmask delivers it once", () => {
    const { host, msix, model } = setup();
    guestEnablesMsix(msix);
    msix.setMasked(2, true);
    ringMailbox(host);
    ringMailbox(host);
    msix.service();
    expect(msix.pendingVectors()).toEqual([2]);
    expect(msix.events).toMatchObject([{ vector: 2, cause: "device", outcome: "pending", signals: 2 }]);
    // the device delivered both to its eventfd: nothing pending there
    expect(pendingInterrupts(model).vectors).toEqual([]);
    expect(msix.pbaWindowOn).toBe(true);
    expect([...msix.readPba()]).toEqual([4, 0, 0, 0, 0, 0, 0, 0]);
    msix.setMasked(2, false);
    expect(msix.events.slice(1)).toEqual([{ timeNs: 0, vector: 2, cause: "unmask", outcome: "delivered", signals: 0, ...guestMessage(2) }]);
    expect(msix.pendingVectors()).toEqual([]);
    expect(msix.pbaWindowOn).toBe(false);
    msix.setMasked(2, false);
    expect(msix.events).toHaveLength(2);
  });

  it("with the PBA window off, a guest read of the PBA reaches the device's PBA", () => {
    const { msix, model } = setup();
    // MSI-X on with every vector masked: none in use, the device's vector 0 has no eventfd
    msix.setControl({ enabled: true });
    expect(msix.usedVectors).toEqual([]);
    triggerTraffic(model, { packets: 1 });
    expect(pendingInterrupts(model).vectors).toEqual([0]);
    expect(msix.pbaWindowOn).toBe(false);
    expect([...msix.readPba()]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(msix.pendingVectors()).toEqual([]);
  });

  it("enabling with every vector masked turns MSI-X on on the device with no vector; an unmask later adds the vectors", () => {
    const { host, msix, model } = setup();
    for (let v = 0; v < 3; v++) msix.writeEntry(v, guestMessage(v));
    msix.setControl({ enabled: true });
    expect(msix.hostEnabled).toBe(true);
    expect(readInterruptCapabilities(host.devices[0]!.device).msix!.enabled).toBe(true);
    expect(msixTable(model).every((e) => e.masked)).toBe(true);
    msix.setMasked(1, false);
    // NORESIZE: MSI-X off and on again with vectors 0..1, 0 without an eventfd
    expect(msix.usedVectors).toEqual([1]);
    expect(msixTable(model).map((e) => e.masked)).toEqual([true, false, true]);
  });

  it("keeps the route taken when a vector was put in use; rewriting the message of an unmasked vector does not change it", () => {
    const { msix, model } = setup();
    guestEnablesMsix(msix);
    msix.writeEntry(0, { address: 0xfee0_1000n, data: 0x99 });
    triggerTraffic(model, { packets: 1 });
    msix.service();
    expect(msix.events[0]).toMatchObject({ vector: 0, outcome: "delivered", ...guestMessage(0) });
    // masked and unmasked again, the vector is put in use with the new message
    msix.setMasked(0, true);
    msix.setMasked(0, false);
    triggerTraffic(model, { packets: 1 });
    msix.service();
    expect(msix.events[1]).toMatchObject({ vector: 0, outcome: "delivered", address: 0xfee0_1000n, data: 0x99 });
  });

  it("Function Mask holds every vector in the PBA; clearing it delivers them", () => {
    const { host, msix, model } = setup();
    guestEnablesMsix(msix);
    msix.setControl({ functionMasked: true });
    triggerTraffic(model, { packets: 1 });
    ringMailbox(host);
    msix.service();
    expect(msix.pendingVectors()).toEqual([0, 2]);
    msix.setControl({ functionMasked: false });
    expect(msix.events.filter((e) => e.cause === "unmask").map((e) => e.vector)).toEqual([0, 2]);
    expect(msix.pendingVectors()).toEqual([]);
  });

  it("snapshots in msix_save()'s layout and loads with or without the mask replay", () => {
    const a = setup(6);
    guestEnablesMsix(a.msix);
    a.msix.setMasked(2, true);
    ringMailbox(a.host);
    a.msix.service();
    const snap = a.msix.snapshot();
    expect(snap.table).toHaveLength(48);
    expect([...snap.pba]).toEqual([4]);
    expect(snap).toMatchObject({ vectors: 3, enabled: true, functionMasked: false });

    const b = setup(7);
    b.msix.load(snap);
    expect(b.msix.pendingVectors()).toEqual([2]);
    expect(b.msix.entry(2)).toEqual({ ...guestMessage(2), masked: true });
    expect(b.msix.hostEnabled).toBe(false);
    expect(b.msix.enableHost()).toEqual([0, 1]);

    // loaded after MSI-X was turned on: the replay puts the unmasked vectors in use, a byte copy does not
    const c = setup(8);
    c.msix.enableHost();
    c.msix.load(snap);
    expect(c.msix.usedVectors).toEqual([0, 1]);
    const d = setup(9);
    d.msix.enableHost();
    d.msix.load(snap, { replayMasks: false });
    expect(d.msix.usedVectors).toEqual([]);
    expect(d.msix.pendingVectors()).toEqual([2]);

    expect(() => d.msix.load({ ...snap, vectors: 4 })).toThrow(/does not fit a table of 3/);
  });

  it("disabling MSI-X takes every vector out of use, clears their pending bits and turns MSI-X off on the device", () => {
    const { host, msix, model } = setup();
    guestEnablesMsix(msix);
    msix.setMasked(2, true);
    ringMailbox(host);
    msix.service();
    msix.setControl({ enabled: false });
    expect(msix.hostEnabled).toBe(false);
    expect(msix.usedVectors).toEqual([]);
    expect(msix.pendingVectors()).toEqual([]);
    triggerTraffic(model, { packets: 1 });
    expect(interruptEvents(model).at(-1)).toMatchObject({ outcome: "dropped-disabled" });
    expect(msix.service()).toBe(0);
  });

  it("polls its eventfds on the simulated clock, and refuses a bad period", () => {
    const { machine, msix, model } = setup();
    guestEnablesMsix(msix);
    const loop = msix.poll(machine.clock, 10_000);
    machine.clock.advance(15_000);
    triggerTraffic(model, { packets: 1 });
    machine.clock.advance(10_000);
    expect(msix.events).toMatchObject([{ timeNs: 20_000, outcome: "delivered" }]);
    loop.stop();
    expect(() => msix.poll(machine.clock, 0)).toThrow(/positive integer/);
  });

  it("says so for a device without MSI-X, and for a vector out of range", () => {
    const m = createEmuBackend({ devices: [{ model: "accel" }] });
    const h = VmmHost.open(m, { ramSize: 1 << 20, backend: "iommufd" });
    expect(() => new EmulatedMsix(h.devices[0]!.device, h.sys)).toThrow(/has no MSI-X capability/);
    const { msix } = setup();
    expect(() => msix.setMasked(3, false)).toThrow(/vector 3 is not in 0..2/);
  });
});
