import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Clock } from "../../hw-emu/sim/clock.js";
import { PciBus } from "../../hw-emu/hw/pci/bus.js";
import { PciFunction } from "../../hw-emu/hw/pci/function.js";
import { InterruptLog, type InterruptMessage } from "../../hw-emu/hw/pci/interrupt-log.js";
import { findCapability } from "../../hw-emu/hw/pci/capabilities.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { MsixController } from "../../hw-emu/hw/msix.js";
import { MsiController } from "../../hw-emu/hw/msi.js";

function msixDevice(vectors = 8, clock?: Clock) {
  const fn = new PciFunction({
    name: "msix-dev",
    vendorId: 0x1af4,
    deviceId: 1,
    classCode: 0xff0000,
    bars: { 0: { kind: "mem64", size: 0x4000, handler: { read: () => 0x11111111, write: () => undefined } } },
  });
  const msix = new MsixController(fn, { vectors, tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000, log: new InterruptLog(clock ?? null) });
  new PciBus().attach(fn, 0x10);
  fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
  const ctrl = msix.capOffset + R.PCI_MSIX_FLAGS;
  const entry = (v: number, field: number) => 0x2000 + 16 * v + field;
  const program = (v: number, addr: number, data: number) => {
    fn.mmioWrite(0, entry(v, 0), 4, addr);
    fn.mmioWrite(0, entry(v, 4), 4, 0);
    fn.mmioWrite(0, entry(v, 8), 4, data);
  };
  const mask = (v: number, on: boolean) => fn.mmioWrite(0, entry(v, 12), 4, on ? 1 : 0);
  const enable = (on: boolean, fmask = false) =>
    fn.configWrite(ctrl, 2, (on ? R.PCI_MSIX_FLAGS_ENABLE : 0) | (fmask ? R.PCI_MSIX_FLAGS_MASKALL : 0));
  return { fn, msix, program, mask, enable, ctrl };
}

describe("MSI-X capability and table", () => {
  it("publishes table size, BIR and offsets; vectors reset masked", () => {
    const { fn, msix } = msixDevice(8);
    expect(findCapability(fn.config, R.PCI_CAP_ID_MSIX)).toBe(msix.capOffset);
    expect(fn.configRead(msix.capOffset + 2, 2) & R.PCI_MSIX_FLAGS_QSIZE).toBe(7);
    expect(fn.configRead(msix.capOffset + 4, 4)).toBe(0x2000);
    expect(fn.configRead(msix.capOffset + 8, 4)).toBe(0x3000);
    for (let v = 0; v < 8; v++) expect(fn.mmioRead(0, 0x2000 + 16 * v + 12, 4)).toBe(1);
    // the rest of the BAR is the device's
    expect(fn.mmioRead(0, 0x100, 4)).toBe(0x11111111);
    // PBA is read-only
    fn.mmioWrite(0, 0x3000, 4, 0xff);
    expect(fn.mmioRead(0, 0x3000, 4)).toBe(0);
  });

  it("delivers to the consumer only when enabled and unmasked", () => {
    const { msix, program, mask, enable } = msixDevice(4);
    const got: InterruptMessage[] = [];
    msix.setConsumer(2, (m) => got.push(m));
    program(2, 0xfee00000, 0x4021);
    expect(msix.fire(2)).toBe("dropped-disabled");
    expect(msix.pending(2)).toBe(false);
    enable(true);
    expect(msix.fire(2)).toBe("pending"); // still masked
    expect(msix.pending(2)).toBe(true);
    mask(2, false);
    expect(got).toHaveLength(1);
    expect(got[0]!.address).toBe(0xfee00000n);
    expect(got[0]!.data).toBe(0x4021);
    expect(msix.pending(2)).toBe(false);
    expect(msix.fire(2)).toBe("delivered");
    expect(got).toHaveLength(2);
  });

  it("function mask holds every vector; clearing it releases pending ones", () => {
    const { msix, program, mask, enable, fn } = msixDevice(4);
    const got: number[] = [];
    for (let v = 0; v < 4; v++) {
      program(v, 0xfee00000, v);
      mask(v, false);
      msix.setConsumer(v, (m) => got.push(m.vector));
    }
    enable(true, true);
    msix.fire(3);
    msix.fire(1);
    expect(msix.pendingVectors()).toEqual([1, 3]);
    expect(fn.mmioRead(0, 0x3000, 4)).toBe(0b1010);
    enable(true, false);
    expect(got).toEqual([1, 3]);
    expect(msix.pendingVectors()).toEqual([]);
  });

  it("bus master disabled drops the message", () => {
    const { msix, program, mask, enable, fn } = msixDevice(1);
    program(0, 0xfee00000, 1);
    mask(0, false);
    enable(true);
    fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    expect(msix.fire(0)).toBe("dropped-bus-master");
  });

  it("held vectors stay pending until released", () => {
    const { msix, program, mask, enable } = msixDevice(2);
    const got: number[] = [];
    msix.setConsumer(0, (m) => got.push(m.vector));
    program(0, 0xfee00000, 1);
    mask(0, false);
    enable(true);
    msix.setHeld(true);
    expect(msix.fire(0)).toBe("pending");
    expect(got).toEqual([]);
    msix.setHeld(false);
    expect(got).toEqual([0]);
  });

  it("property (seeded): a masked vector sets its PBA bit and is delivered exactly once on unmask", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.record({ op: fc.constantFrom("fire", "mask", "unmask", "fmask", "funmask"), v: fc.nat(63) }), { maxLength: 60 }),
        (n, ops) => {
          const { msix, program, mask, enable } = msixDevice(n);
          const delivered = new Array<number>(n).fill(0);
          const fired = new Array<number>(n).fill(0);
          for (let v = 0; v < n; v++) {
            program(v, 0xfee00000, v);
            msix.setConsumer(v, (m) => delivered[m.vector]!++);
          }
          enable(true);
          let fmask = false;
          const masked = new Array<boolean>(n).fill(true);
          // model: number of firings not yet delivered collapses to one pending bit
          const pendingModel = new Array<boolean>(n).fill(false);
          const expectedDeliveries = new Array<number>(n).fill(0);
          const release = () => {
            if (fmask) return;
            for (let v = 0; v < n; v++) if (pendingModel[v] && !masked[v]) {
              pendingModel[v] = false;
              expectedDeliveries[v]!++;
            }
          };
          for (const { op, v: raw } of ops) {
            const v = raw % n;
            if (op === "fire") {
              fired[v]!++;
              const outcome = msix.fire(v);
              expect(outcome).toBe(fmask || masked[v] ? "pending" : "delivered");
              if (fmask || masked[v]) pendingModel[v] = true;
              else expectedDeliveries[v]!++;
            } else if (op === "mask") {
              masked[v] = true;
              mask(v, true);
            } else if (op === "unmask") {
              masked[v] = false;
              mask(v, false);
              release();
            } else if (op === "fmask") {
              fmask = true;
              enable(true, true);
            } else {
              fmask = false;
              enable(true, false);
              release();
            }
            for (let k = 0; k < n; k++) expect(msix.pending(k)).toBe(pendingModel[k]);
          }
          expect(delivered).toEqual(expectedDeliveries);
          // unmask everything: every pending vector is delivered exactly once more and PBA clears
          const before = delivered.slice();
          const wasPending = pendingModel.slice();
          enable(true, false);
          for (let v = 0; v < n; v++) mask(v, false);
          for (let v = 0; v < n; v++) {
            expect(delivered[v]).toBe(before[v]! + (wasPending[v] ? 1 : 0));
            expect(msix.pending(v)).toBe(false);
          }
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  it("log is stamped with simulated time and deterministic", () => {
    const run = () => {
      const clock = new Clock();
      const { msix, program, mask, enable } = msixDevice(2, clock);
      program(0, 0xfee00000, 7);
      enable(true);
      msix.fire(0);
      clock.advance(1500);
      mask(0, false);
      clock.advance(10);
      msix.fire(0);
      return msix.log.entries.map((e) => [e.time, e.vector, e.cause, e.outcome]);
    };
    const a = run();
    expect(a).toEqual([
      [0, 0, "fire", "pending"],
      [1500, 0, "unmask", "delivered"],
      [1510, 0, "fire", "delivered"],
    ]);
    expect(run()).toEqual(a);
  });

  it("FLR clears the table and PBA", () => {
    const { msix, program, enable, fn } = msixDevice(2);
    program(0, 0xfee00000, 7);
    enable(true);
    msix.fire(0);
    fn.reset();
    expect(msix.pending(0)).toBe(false);
    expect(msix.message(0)).toEqual({ address: 0n, data: 0 });
    expect(msix.vectorMasked(0)).toBe(true);
    expect(msix.enabled).toBe(false);
  });
});

describe("MSI", () => {
  function msiDevice(opts: { vectors: number; address64?: boolean; perVectorMask?: boolean }) {
    const fn = new PciFunction({ name: "msi-dev", vendorId: 0x1af4, deviceId: 2, classCode: 0xff0000 });
    const msi = new MsiController(fn, opts);
    new PciBus().attach(fn, 0x18);
    fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MASTER);
    return { fn, msi, cap: msi.capOffset };
  }

  it("layout: 64-bit with per-vector masking is 24 bytes, control advertises capability", () => {
    const { fn, msi, cap } = msiDevice({ vectors: 4 });
    expect(findCapability(fn.config, R.PCI_CAP_ID_MSI)).toBe(cap);
    const ctl = fn.configRead(cap + 2, 2);
    expect((ctl & R.PCI_MSI_FLAGS_QMASK) >> 1).toBe(2);
    expect(ctl & R.PCI_MSI_FLAGS_64BIT).toBeTruthy();
    expect(ctl & R.PCI_MSI_FLAGS_MASKBIT).toBeTruthy();
    expect(msi.vectors).toBe(4);
  });

  it("multiple message enable selects vectors; data low bits carry the vector", () => {
    const { fn, msi, cap } = msiDevice({ vectors: 4 });
    const got: [number, number][] = [];
    for (let v = 0; v < 4; v++) msi.setConsumer(v, (m) => got.push([m.vector, m.data]));
    fn.configWrite(cap + 4, 4, 0xfee00000);
    fn.configWrite(cap + 8, 4, 0);
    fn.configWrite(cap + 0xc, 2, 0x40);
    fn.configWrite(cap + 2, 2, R.PCI_MSI_FLAGS_ENABLE | (1 << 4)); // 2 vectors granted
    expect(msi.enabledVectors).toBe(2);
    expect(msi.fire(1)).toBe("delivered");
    expect(msi.fire(3)).toBe("dropped-vector");
    expect(got).toEqual([[1, 0x41]]);
  });

  it("per-vector mask sets the pending register; unmask delivers once", () => {
    const { fn, msi, cap } = msiDevice({ vectors: 2 });
    let n = 0;
    msi.setConsumer(0, () => n++);
    fn.configWrite(cap + 2, 2, R.PCI_MSI_FLAGS_ENABLE | (1 << 4));
    fn.configWrite(cap + 0x10, 4, 1); // mask vector 0
    expect(msi.fire(0)).toBe("pending");
    expect(fn.configRead(cap + 0x14, 4)).toBe(1);
    fn.configWrite(cap + 0x14, 4, 0); // pending is read-only
    expect(fn.configRead(cap + 0x14, 4)).toBe(1);
    fn.configWrite(cap + 0x10, 4, 0);
    expect(n).toBe(1);
    expect(fn.configRead(cap + 0x14, 4)).toBe(0);
    fn.configWrite(cap + 0x10, 4, 0);
    expect(n).toBe(1);
  });

  it("32-bit layout without masking is 10 bytes", () => {
    const { fn, msi, cap } = msiDevice({ vectors: 1, address64: false, perVectorMask: false });
    fn.configWrite(cap + 4, 4, 0xfee0_0003);
    expect(fn.configRead(cap + 4, 4)).toBe(0xfee0_0000);
    fn.configWrite(cap + 8, 2, 0x55);
    fn.configWrite(cap + 2, 2, R.PCI_MSI_FLAGS_ENABLE);
    expect(msi.message(0)).toEqual({ address: 0xfee00000n, data: 0x55 });
  });
});
