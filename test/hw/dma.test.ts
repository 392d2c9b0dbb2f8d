import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Clock } from "../../hw-emu/sim/clock.js";
import { Random } from "../../hw-emu/sim/random.js";
import { setBitIndices } from "../../hw-emu/sim/bitmap.js";
import { DmaEngine } from "../../hw-emu/hw/dma.js";
import { Iommu, PAGE_2M, PAGE_4K, PERM_READ, PERM_RW, requesterId } from "../../hw-emu/hw/iommu.js";
import { GuestMemory } from "../../hw-emu/hw/memory.js";
import type { MmioTarget } from "../../hw-emu/hw/mmio.js";

const NIC = requesterId(1, 0, 0);
const ACC = requesterId(2, 0, 0);

function machine(memSize = 2 ** 30) {
  const clock = new Clock();
  const memory = new GuestMemory({ size: memSize });
  const iommu = new Iommu({ clock });
  const dma = new DmaEngine({ memory, iommu, clock });
  const domain = iommu.createDomain();
  iommu.attach(NIC, domain);
  return { clock, memory, iommu, dma, domain };
}

describe("DmaEngine", () => {
  it("writes through translation and reads back", () => {
    const { memory, dma, domain } = machine();
    domain.map(0x10_0000, 0x20_0000, 0x4000, PERM_RW);
    const port = dma.connect(NIC, { busMasterEnabled: () => true });
    const data = Uint8Array.from({ length: 0x2100 }, (_, i) => i & 0xff);
    expect(port.write(0x10_0f00, data)).toBe("ok");
    expect(Buffer.compare(memory.read(0x20_0f00, data.length), data)).toBe(0);
    const r = port.read(0x10_0f00, data.length);
    expect(r.status).toBe("ok");
    expect(Buffer.compare(r.data, data)).toBe(0);
    expect(dma.stats).toMatchObject({ writes: 1, reads: 1, bytesWritten: 0x2100, bytesRead: 0x2100 });
  });

  it("is gated by bus master enable", () => {
    const { memory, dma, domain } = machine();
    domain.map(0, 0, 0x1000, PERM_RW);
    let bme = false;
    const port = dma.connect(NIC, { busMasterEnabled: () => bme });
    expect(port.write(0, new Uint8Array([1]))).toBe("bus-master-disabled");
    expect(memory.allocatedPages).toBe(0);
    bme = true;
    expect(port.write(0, new Uint8Array([1]))).toBe("ok");
    expect(dma.stats.blocked).toBe(1);
  });

  it("a faulting write writes nothing, even where the span was mapped", () => {
    const { memory, iommu, dma, domain } = machine();
    domain.map(0, 0, 0x1000, PERM_RW);
    domain.map(0x2000, 0x2000, 0x1000, PERM_READ);
    const port = dma.connect(NIC, { busMasterEnabled: () => true, onWrite: () => logged++ });
    let logged = 0;
    domain.setDirtyTracking(true);
    expect(port.write(0x800, new Uint8Array(0x1000).fill(7))).toBe("fault"); // second page unmapped
    expect(port.write(0x2000, new Uint8Array(16).fill(7))).toBe("fault"); // read-only
    expect(memory.allocatedPages).toBe(0);
    expect(iommu.faults.map((f) => [f.reason, f.iova])).toEqual([
      ["not-present", 0x1000],
      ["permission", 0x2000],
    ]);
    expect(domain.isDirty(0)).toBe(false);
    expect(logged).toBe(0);
    const buf = new Uint8Array(4).fill(9);
    expect(port.readInto(0xffc, buf, 0, 4)).toBe("ok");
    expect(port.readInto(0xffe, buf, 0, 4)).toBe("fault");
    expect(dma.stats.faults).toBe(3);
  });

  it("faults with no-domain for a detached device and throws for an unknown one", () => {
    const { iommu, dma } = machine();
    const port = dma.connect(ACC, { busMasterEnabled: () => true });
    expect(port.write(0, new Uint8Array(4))).toBe("fault");
    expect(iommu.faults[0]?.reason).toBe("no-domain");
    expect(() => dma.write(0x999, 0, new Uint8Array(1))).toThrow(/unknown requester/);
    expect(() => dma.connect(ACC, { busMasterEnabled: () => true })).toThrow(/already/);
  });

  it("marks whole huge leaves dirty and calls the device's log hook", () => {
    const { dma, domain } = machine();
    domain.map(0, 0, 2 * PAGE_2M, PERM_RW); // two 2 MiB leaves
    const log: [number, number][] = [];
    const port = dma.connect(NIC, { busMasterEnabled: () => true, onWrite: (i, l) => log.push([i, l]) });
    port.write(PAGE_2M - 2, new Uint8Array(4)); // crosses into the second leaf
    expect(log).toEqual([[PAGE_2M - 2, 4]]);
    const out = new Uint32Array(32);
    domain.readDirty(0, 2 * PAGE_2M, PAGE_4K, out);
    expect(setBitIndices(out)).toEqual([]); // tracking was off
    domain.setDirtyTracking(true);
    port.write(10, new Uint8Array(4));
    domain.readDirty(0, 2 * PAGE_2M, PAGE_4K, out);
    expect(setBitIndices(out)).toHaveLength(512);
    const coarse = new Uint32Array(1);
    domain.readDirty(0, 2 * PAGE_2M, PAGE_2M, coarse);
    expect(setBitIndices(coarse)).toEqual([]);
    // the same leaf written again after a harvest is dirty again
    port.write(20, new Uint8Array(4));
    port.write(30, new Uint8Array(4));
    domain.readDirty(0, 2 * PAGE_2M, PAGE_2M, coarse);
    expect(setBitIndices(coarse)).toEqual([0]);
    port.write(40, new Uint8Array(4));
    const again = new Uint32Array(1);
    domain.readDirty(0, 2 * PAGE_2M, PAGE_2M, again);
    expect(setBitIndices(again)).toEqual([0]);
  });

  it("routes writes that land in a window peer-to-peer and records refused ones", () => {
    const { clock, memory, dma, domain } = machine(0x8000_0000); // RAM ends where the window starts
    const received: [number, number[]][] = [];
    let accepting = true;
    const target: MmioTarget = {
      write: (off, data) => {
        if (!accepting) return false;
        received.push([off, [...data]]);
        return true;
      },
      read: (off, dst) => {
        dst.fill(off & 0xff);
        return true;
      },
    };
    const win = dma.mmio.register({ base: 0x8000_0000, size: 0x1000, target, name: "acc BAR0" });
    domain.map(0x10000, 0x7fff_f000, 0x2000, PERM_RW);
    const port = dma.connect(NIC, { busMasterEnabled: () => true, name: "nic" });
    // 8 bytes: 4 to RAM just below the window, 4 to the window
    expect(port.write(0x10ffc, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))).toBe("ok");
    expect([...memory.read(0x7fff_fffc, 4)]).toEqual([1, 2, 3, 4]);
    expect(received).toEqual([[0, [5, 6, 7, 8]]]);
    expect([...port.read(0x11010, 2).data]).toEqual([0x10, 0x10]);
    accepting = false;
    clock.advance(77);
    expect(port.write(0x11020, new Uint8Array([9]))).toBe("ok");
    expect(dma.lost).toEqual([
      { time: 77, sourceRid: NIC, source: "nic", target: "acc BAR0", kind: "write", reason: "refused", iova: 0x11020, address: 0x8000_0020, length: 1 },
    ]);
    expect(dma.stats.p2pWrites).toBe(2);
    win.unregister();
    expect(port.write(0x11020, new Uint8Array([9]))).toBe("unclaimed"); // beyond RAM, no window
    expect(dma.lost.at(-1)?.reason).toBe("unclaimed");
    expect(() => dma.mmio.register({ base: 0x10, size: 0x10, target, name: "a" }) && dma.mmio.register({ base: 0x18, size: 8, target, name: "b" })).toThrow(/overlaps/);
  });

  it("injected faults fail matching accesses only, until cancelled", () => {
    const { memory, iommu, dma, domain } = machine();
    domain.map(0, 0, 0x10000, PERM_RW);
    const port = dma.connect(NIC, { busMasterEnabled: () => true });
    const inj = iommu.injectFault({ iova: 0x4000, length: 0x1000, access: "write", reason: "permission", count: Infinity });
    expect(port.write(0x3ff0, new Uint8Array(32))).toBe("fault"); // touches the injected page
    expect(port.write(0x5000, new Uint8Array(32))).toBe("ok");
    expect(port.read(0x4000, 4).status).toBe("ok"); // reads are not matched
    expect(iommu.faults.at(-1)).toMatchObject({ reason: "permission", iova: 0x4000, access: "write", requesterId: NIC });
    expect(memory.isAllocated(0x3000)).toBe(false);
    inj.cancel();
    expect(port.write(0x3ff0, new Uint8Array(32))).toBe("ok");
    expect(iommu.hasInjectedFaults).toBe(false);
  });

  it("writes exactly the translated pages and marks exactly those dirty (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const rng = new Random(seed);
        const { memory, dma, domain, iommu } = machine(64 * PAGE_4K);
        domain.setDirtyTracking(true);
        // random 4 KiB mappings of 32 IOVA pages onto distinct guest pages, some read-only
        const gpages = rng.shuffle(Array.from({ length: 64 }, (_, i) => i));
        const map = new Map<number, { gpa: number; writable: boolean }>();
        for (let p = 0; p < 32; p++) {
          if (rng.bool(0.25)) continue;
          const writable = rng.bool(0.8);
          domain.map(p * PAGE_4K, gpages[p]! * PAGE_4K, PAGE_4K, writable ? PERM_RW : PERM_READ);
          map.set(p, { gpa: gpages[p]! * PAGE_4K, writable });
        }
        const ref = new Uint8Array(64 * PAGE_4K);
        const dirty = new Set<number>();
        const port = dma.connect(NIC, { busMasterEnabled: () => true });
        for (let k = 0; k < 20; k++) {
          const iova = rng.int(0, 32 * PAGE_4K - 1);
          const len = rng.int(1, Math.min(3 * PAGE_4K, 32 * PAGE_4K - iova));
          const data = rng.bytes(new Uint8Array(len));
          const first = Math.floor(iova / PAGE_4K);
          const last = Math.floor((iova + len - 1) / PAGE_4K);
          let ok = true;
          for (let p = first; p <= last; p++) if (!map.get(p)?.writable) ok = false;
          const faultsBefore = iommu.faultCount;
          expect(port.write(iova, data)).toBe(ok ? "ok" : "fault");
          expect(iommu.faultCount - faultsBefore).toBe(ok ? 0 : 1);
          if (!ok) continue;
          for (let i = 0; i < len; i++) {
            const v = iova + i;
            ref[map.get(Math.floor(v / PAGE_4K))!.gpa + (v % PAGE_4K)] = data[i]!;
          }
          for (let p = first; p <= last; p++) dirty.add(p);
        }
        expect(Buffer.compare(memory.read(0, ref.length), ref)).toBe(0);
        const out = new Uint32Array(1);
        domain.readDirty(0, 32 * PAGE_4K, PAGE_4K, out);
        expect(setBitIndices(out)).toEqual([...dirty].sort((a, b) => a - b));
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
