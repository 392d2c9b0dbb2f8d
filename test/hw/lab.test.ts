import { describe, it, expect } from "vitest";
import { Clock, NS_PER_MS } from "../../hw-emu/sim/clock.js";
import { Random } from "../../hw-emu/sim/random.js";
import { DmaEngine } from "../../hw-emu/hw/dma.js";
import { Iommu, PERM_RW, requesterId } from "../../hw-emu/hw/iommu.js";
import { GuestMemory } from "../../hw-emu/hw/memory.js";
import { GuestDirtyLog } from "../../hw-emu/hw/memory-dirty-log.js";
import { HardwareLab } from "../../hw-emu/lab/hardware-lab.js";
import { countBits } from "../../hw-emu/sim/bitmap.js";

const RID = requesterId(3, 0, 0);
const MiB = 2 ** 20;

function setup(seed = 1) {
  const clock = new Clock({ log: true });
  const memory = new GuestMemory({ size: 2 ** 32 });
  const iommu = new Iommu({ clock });
  const dma = new DmaEngine({ memory, iommu, clock });
  const cpu = new GuestDirtyLog(memory);
  const domain = iommu.createDomain();
  iommu.attach(RID, domain);
  domain.map(0, 0, 64 * MiB, PERM_RW);
  dma.connect(RID, { busMasterEnabled: () => true, name: "dev" });
  const lab = new HardwareLab({ clock, rng: new Random(seed), memory, iommu, dma, cpu });
  return { clock, memory, iommu, dma, cpu, domain, lab };
}

describe("HardwareLab", () => {
  it("watches DMA dirty bits without clearing them", () => {
    const { domain, lab } = setup();
    domain.setDirtyTracking(true);
    const { workload, outcomes } = lab.startDmaTraffic(RID, { region: { base: 16 * MiB, length: 16 * MiB }, bytesPerSecond: 1e9, size: 64 * 1024, locality: { kind: "hot-set" } });
    lab.advance(2 * NS_PER_MS);
    expect(workload.running).toBe(true);
    expect(outcomes.ok).toBeGreaterThan(10);
    const pages = lab.dirtyPages(domain, 0, 64 * MiB);
    expect(pages.length).toBeGreaterThan(0);
    expect(pages.every((p) => p >= 16 * MiB && p < 32 * MiB)).toBe(true);
    expect(lab.dirtyPages(domain, 0, 64 * MiB)).toEqual(pages);
    expect(lab.dirtyCount(domain, 0, 64 * MiB)).toBe(pages.length);
    // 2 MiB leaves: every dirty run covers whole leaves
    expect(lab.dirtyRuns(domain, 0, 64 * MiB).every((r) => r.iova % (2 * MiB) === 0 && r.length % (2 * MiB) === 0)).toBe(true);
    lab.stopAll();
    expect(lab.runningWorkloads()).toEqual([]);
    const ops = workload.stats.ops;
    lab.advance(NS_PER_MS);
    expect(workload.stats.ops).toBe(ops);
  });

  it("injects faults and lost dirty bits", () => {
    const { domain, lab, memory } = setup();
    domain.setDirtyTracking(true);
    const inj = lab.injectFault({ requesterId: RID, iova: 0, length: 4096, access: "write", count: 2 });
    const { outcomes } = lab.startDmaTraffic(RID, { region: { base: 0, length: 4096 }, bytesPerSecond: 4096e3, size: 4096 });
    lab.advance(3 * NS_PER_MS); // four writes at 0, 1, 2, 3 ms
    lab.stopAll();
    expect(outcomes).toMatchObject({ fault: 2, ok: 2 });
    expect(inj.remaining).toBe(0);
    expect(lab.faults().map((f) => [f.reason, f.time])).toEqual([
      ["not-present", 0],
      ["not-present", NS_PER_MS],
    ]);
    expect(memory.allocatedPages).toBe(1);
    expect(lab.dirtyCount(domain, 0, 64 * MiB)).toBe(512);
    lab.loseDirty(domain, 0, 64 * MiB);
    expect(lab.dirtyCount(domain, 0, 64 * MiB)).toBe(0);
    lab.injectDirty(domain, 0x5000, 1);
    expect(lab.dirtyPages(domain, 0, 64 * MiB)).toEqual([0x5000]);
    lab.clearFaults();
    expect(lab.faults()).toEqual([]);
  });

  it("runs guest writes through the CPU dirty log, and can write around it", () => {
    const { cpu, lab } = setup();
    cpu.start();
    const before = lab.memoryDigest();
    const w = lab.startGuestWrites({ workingSet: { base: 0, length: 8 * MiB }, pagesPerSecond: 100_000 });
    lab.advance(10 * NS_PER_MS);
    w.stop();
    const bits = new Uint32Array(2048 / 32);
    cpu.read(0, 8 * MiB, bits, { clear: false });
    expect(countBits(bits)).toBe(lab.pageHashes(0, 8 * MiB).length);
    expect(lab.memoryDigest()).not.toBe(before);
    const mid = lab.memoryDigest();
    lab.writeMemoryUnlogged(16 * MiB, new Uint8Array([1, 2, 3]));
    expect(lab.memoryDigest()).not.toBe(mid);
    expect(cpu.isDirty(16 * MiB)).toBe(false);
    expect(lab.readMemory(16 * MiB, 3)).toEqual(new Uint8Array([1, 2, 3]));
    expect(lab.pageHash(16 * MiB)).toBe(lab.pageHashes(16 * MiB, 4096)[0]!.hash);
  });

  it("shows lost peer-to-peer writes", () => {
    const { dma, domain, lab } = setup();
    dma.mmio.register({ base: 2 ** 32 - MiB, size: MiB, name: "peer BAR0", target: { write: () => false } });
    domain.map(128 * MiB, 2 ** 32 - MiB, MiB, PERM_RW);
    lab.startDmaTraffic(RID, { region: { base: 128 * MiB, length: MiB }, bytesPerSecond: 1e6, size: 64 });
    lab.advance(0);
    lab.stopAll();
    expect(lab.lostWrites()).toHaveLength(1);
    expect(lab.lostWrites()[0]).toMatchObject({ target: "peer BAR0", source: "dev", reason: "refused" });
    expect(lab.dmaStats().p2pWrites).toBe(1);
  });

  it("finds a device's domain by requester id or PCI address", () => {
    const { domain, lab } = setup();
    expect(lab.domainOf(RID)).toBe(domain);
    expect(lab.domainOf("0000:03:00.0")).toBe(domain);
    expect(lab.domainOf("03:00.1")).toBeNull();
    expect(() => lab.domainOf("nic0")).toThrow(/not a PCI address/);
  });

  it("splits a huge leaf under DMA: break-before-make faults the writes in the gap, atomic loses none", () => {
    function run(mode: "atomic" | "break-before-make") {
      const { domain, lab } = setup();
      domain.setDirtyTracking(true);
      // one 4 KiB write a microsecond into the 2 MiB leaf at 16 MiB
      const { outcomes } = lab.startDmaTraffic("0000:03:00.0", { region: { base: 16 * MiB, length: 2 * MiB }, bytesPerSecond: 4096e6, size: 4096, locality: { kind: "sequential" } });
      lab.advance(9_500);
      const split = lab.splitLeaf(domain, 16 * MiB + 0x3000, { mode, gapNs: 20_000 });
      lab.advance(10_000);
      const during = { done: split.done, leaves: lab.mappings(domain, 16 * MiB, 2 * MiB).length };
      lab.advance(20_000);
      lab.stopAll();
      return { outcomes: { ...outcomes }, during, after: { done: split.done, leaves: lab.mappings(domain, 16 * MiB, 2 * MiB).length }, faults: lab.faults().length };
    }
    const bbm = run("break-before-make");
    const atomic = run("atomic");
    // writes at 0, 1, ..., 39 µs; the gap is [9.5 µs, 29.5 µs): the 20 writes at 10..29 µs fault
    expect(bbm).toEqual({ outcomes: { ok: 20, fault: 20, "bus-master-disabled": 0, unclaimed: 0 }, during: { done: false, leaves: 0 }, after: { done: true, leaves: 512 }, faults: 20 });
    expect(atomic).toEqual({ outcomes: { ok: 40, fault: 0, "bus-master-disabled": 0, unclaimed: 0 }, during: { done: false, leaves: 1 }, after: { done: true, leaves: 512 }, faults: 0 });
    const { domain, lab } = setup();
    expect(() => lab.splitLeaf(domain, 0, { gapNs: -1 })).toThrow(/gapNs/);
    lab.splitLeaf(domain, 0);
    expect(lab.mappings(domain, 0, 2 * MiB)).toHaveLength(512);
  });

  it("repeats exactly for the same seed", () => {
    function run(seed: number) {
      const { clock, domain, lab } = setup(seed);
      domain.setDirtyTracking(true);
      lab.startDmaTraffic(RID, { region: { base: 0, length: 32 * MiB }, bytesPerSecond: 5e8, size: 4096, arrivals: "poisson" });
      lab.startGuestWrites({ workingSet: { base: 32 * MiB, length: 32 * MiB }, pagesPerSecond: 20_000, locality: { kind: "hot-set" } });
      lab.advance(5 * NS_PER_MS);
      return { digest: lab.memoryDigest(), dirty: lab.dirtyPages(domain, 0, 64 * MiB), log: clock.log!.length, iotlb: lab.iotlb() };
    }
    expect(run(7)).toEqual(run(7));
    expect(run(7).digest).not.toBe(run(8).digest);
  });
});
