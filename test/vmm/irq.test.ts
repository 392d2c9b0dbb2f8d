import { describe, expect, it } from "vitest";
import { SimulatedVm, migrate } from "../../kernel-lib/vmm/index.js";
import { NicVf } from "../../hw-emu/hw/devices/nic-vf.js";
import { AccelVf } from "../../hw-emu/hw/devices/accel-vf.js";

function vm(): SimulatedVm {
  return new SimulatedVm({ memory: 32 * 2 ** 20, seed: 3, devices: [{ model: "nic", maskedVectors: [1] }, { model: "accel" }], workload: { packetsPerSecond: 5000 } });
}

describe("interrupt restore on the destination", () => {
  it("enables the vectors the source had, with an eventfd each, and an interrupt after resume reaches its eventfd", async () => {
    const v = vm();
    v.run(5e6);
    const src = v.host;
    const r = await migrate(v);
    expect(r.ok).toBe(true);
    const dst = v.host;
    expect(dst).not.toBe(src);
    for (const [i, d] of dst.devices.entries()) {
      expect(d.irq?.kind).toBe(src.devices[i]!.irq!.kind);
      expect(d.irq?.count).toBe(src.devices[i]!.irq!.count);
      expect(d.irq?.eventfds).toHaveLength(d.irq!.count);
    }
    const nic = dst.devices[0]!.model as NicVf;
    expect(nic.msix.enabled).toBe(true);
    for (let vec = 0; vec < dst.devices[0]!.irq!.count; vec++) {
      const st = nic.msix.vectorState(vec);
      expect(st.hasConsumer).toBe(true);
      expect(st.masked).toBe(false);
    }
    expect((dst.devices[1]!.model as AccelVf).msi.enabled).toBe(true);

    // the guest's loop would take the interrupt first: freeze it and look at the eventfd
    v.guest.freeze();
    dst.devices[0]!.drainEventfds();
    nic.receive(0, new Uint8Array(64));
    const counts = dst.devices[0]!.drainEventfds();
    expect(counts[0]).toBeGreaterThan(0);
  });

  it("keeps the guest's mask state: interrupts on a masked vector wait until it is unmasked", async () => {
    const v = vm();
    v.run(5e6);
    const r = await migrate(v);
    expect(r.ok).toBe(true);
    const st = v.guest.irq[0]!;
    expect([...st.masked]).toEqual([1]);
    v.guest.deliver(0, 1, 2);
    expect(st.received[1]).toBe(0);
    expect(st.held[1]).toBeGreaterThanOrEqual(2);
    v.guest.unmask(0, 1);
    expect(st.received[1]).toBeGreaterThanOrEqual(2);
    expect(st.held[1]).toBe(0);
  });

  it("delivers what fired while the guest was stopped after resume (late), and loses none", async () => {
    const v = vm();
    v.run(5e6);
    // packets keep arriving while the NIC is in RUNNING_P2P and the vCPUs are stopped
    const r = await migrate(v, { costs: { deviceArcNs: 1_000_000 } });
    expect(r.ok).toBe(true);
    expect(r.interrupts.late).toBeGreaterThan(0);
    expect(r.interrupts.lost).toBe(0);
    expect(r.timeline.lateInterrupts).toBe(r.interrupts.late);
    expect(r.timeline.lostInterrupts).toBe(r.interrupts.lost);
  });

  it("without carrying pending interrupts, the ones raised while stopped are lost", async () => {
    const v = vm();
    v.run(5e6);
    const r = await migrate(v, { costs: { deviceArcNs: 1_000_000 }, carryPendingInterrupts: false });
    expect(r.ok).toBe(true);
    expect(r.interrupts.late).toBe(0);
    expect(r.interrupts.lost).toBeGreaterThan(0);
  });
});
