import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { setup } from "./fixtures/pci-fixture.js";

describe("vfio-pci access properties", () => {
  it("config reads of any offset and length equal the same bytes read one at a time", () => {
    const { io } = setup();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 1, max: 16 }), (off, len) => {
        const n = Math.min(len, 4096 - off);
        const whole = [...io.read(7, off, n)];
        const bytes = Array.from({ length: n }, (_, i) => io.read(7, off + i, 1)[0]!);
        expect(whole).toEqual(bytes);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it("BAR writes of any offset and length read back and land in the function, except inside the MSI-X table", () => {
    const { io, bar0, msix } = setup();
    io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    const table = [0x2000, 0x2000 + 16 * msix!.vectors];
    const pba = [0x3000, 0x3008];
    const model = new Uint8Array(0x4000);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x3fff }), fc.uint8Array({ minLength: 1, maxLength: 24 }), (off, data) => {
        const n = io.write(0, off, data);
        expect(n).toBe(Math.min(data.length, 0x4000 - off));
        for (let i = 0; i < n; i++) {
          const a = off + i;
          if (a >= table[0]! && a < table[1]!) continue;
          if (a >= pba[0]! && a < pba[1]!) continue;
          model[a] = data[i]!;
        }
        const back = io.read(0, off, n);
        for (let i = 0; i < n; i++) {
          const a = off + i;
          const want = a >= table[0]! && a < table[1]! ? 0xff : a >= pba[0]! && a < pba[1]! ? 0 : model[a]!;
          expect(back[i]).toBe(want);
          if (want !== 0xff && !(a >= pba[0]! && a < pba[1]!)) expect(bar0.bytes[a]).toBe(want);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
