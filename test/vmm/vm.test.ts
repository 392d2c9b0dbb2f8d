import { describe, expect, it } from "vitest";
import { SimulatedVm, parseSize } from "../../kernel-lib/vmm/index.js";
import { CoarseDirty, DirtySet } from "../../kernel-lib/vmm/dirty-set.js";
import { Link } from "../../kernel-lib/vmm/link.js";
import { PageCopier, GuestRam } from "../../kernel-lib/vmm/ram.js";
import { createEmuBackend } from "../../kernel-lib/backends/emu.js";
import { MMAP } from "../../hw-emu/uapi/index.js";
import { Clock } from "../../hw-emu/sim/clock.js";

describe("SimulatedVm", () => {
  it("takes sizes as numbers or strings, and explains a 32-bit shift", () => {
    expect(parseSize("4GiB")).toBe(4 * 2 ** 30);
    expect(parseSize("512 MiB")).toBe(512 * 2 ** 20);
    expect(parseSize("1T")).toBe(2 ** 40);
    expect(parseSize(65536)).toBe(65536);
    expect(() => parseSize(4 << 30)).toThrow(/4 << 30 is 0/);
    expect(() => parseSize("4 parsecs")).toThrow(/not a size/);
    expect(() => parseSize(1000)).toThrow(/multiple of 4096/);
  });

  it("rejects a device model it cannot drive", () => {
    expect(() => new SimulatedVm({ memory: "16MiB", devices: [{ model: "serial" as "nic" }] })).toThrow(/serial/);
  });

  it("boots on first use: devices opened, RAM mapped for DMA, interrupts enabled, the guest running", () => {
    const vm = new SimulatedVm({ memory: "16MiB", devices: [{ model: "nic" }, { model: "accel" }], seed: 4 });
    expect(vm.booted).toBe(false);
    vm.run(10e6);
    expect(vm.booted).toBe(true);
    expect(vm.iommu).toBe("iommufd");
    expect(vm.now).toBe(10e6);
    expect(vm.host.devices.map((d) => d.irq?.kind)).toEqual(["msix", "msi"]);
    expect(vm.guest.running).toBe(true);
    // the guest dirtied RAM, the devices did DMA and raised interrupts
    expect(vm.host.ram.allocatedPages().length).toBeGreaterThan(100);
    expect(vm.guest.interruptsReceived).toBeGreaterThan(0);
    expect(() => vm.boot("type1")).toThrow(/iommufd/);
  });

  it("boots with a type1 container when asked", () => {
    const vm = new SimulatedVm({ memory: "16MiB", devices: [{ model: "nic" }], iommu: "type1" });
    vm.run(1e6);
    expect(vm.host.backend).toBe("type1");
    expect(vm.host.iommuTracker()?.name).toBe("type1");
  });
});

describe("the orchestrator's parts", () => {
  it("DirtySet ORs uAPI bitmaps, counts, and hands out pages in order", () => {
    const s = new DirtySet(100);
    const a = new Uint32Array(4);
    a[0] = 0b1010;
    a[3] = 1 << 3; // page 99
    expect(s.or(a)).toBe(3);
    const b = new Uint32Array(4);
    b[0] = 0b0010;
    b[1] = 1;
    expect(s.or(b)).toBe(2);
    const coarse = new CoarseDirty(100, 16);
    const out = coarse.empty();
    expect(s.scan(coarse, out)).toBe(4);
    const got: number[] = [];
    expect(s.drain(() => new Float64Array(), (p) => got.push(p))).toBe(4);
    expect(got).toEqual([1, 3, 32, 99]);
    expect(s.count()).toBe(0);
    s.setAll();
    const cand: number[] = [];
    expect(s.drain(() => Float64Array.from([5, 7]), (p) => cand.push(p))).toBe(100);
    expect(cand).toEqual([5, 7]);
  });

  it("Link turns bytes into simulated time without losing fractions", () => {
    const clock = new Clock();
    const link = new Link(clock, 3e9);
    for (let i = 0; i < 3; i++) link.send(1);
    expect(clock.now).toBe(1);
    link.send(3e9);
    expect(clock.now).toBe(1e9 + 1);
    expect(() => new Link(clock, 0)).toThrow(/bandwidth/);
  });

  it("PageCopier copies exact bytes and keeps lightly written pages compact", () => {
    const a = createEmuBackend({});
    const b = createEmuBackend({});
    const map = (m: typeof a) => m.sys.mmap(-1, 1 << 20, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_PRIVATE | MMAP.MAP_ANONYMOUS, 0n);
    const ramOf = (m: typeof a) => {
      const mapping = map(m);
      return new GuestRam(m.lab.guestRam(mapping, 1 << 20), mapping);
    };
    const src = ramOf(a);
    const dst = ramOf(b);
    a.hw.memory.write(src.host(4096 + 100), new Uint8Array([1, 2, 3, 4, 5]));
    const dense = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
    a.hw.memory.write(src.host(2 * 4096), dense);
    a.hw.memory.fill(src.host(3 * 4096), 4096, 0x33);
    const c = new PageCopier(src, dst);
    expect(c.copy(0)).toBe(false);
    for (const p of [1, 2, 3]) expect(c.copy(p)).toBe(true);
    for (const p of [0, 1, 2, 3]) expect(dst.read(p * 4096, 4096)).toEqual(src.read(p * 4096, 4096));
    expect(b.hw.memory.stats().densePages).toBe(1);
    expect(dst.digest()).toBe(src.digest());
  });
});
