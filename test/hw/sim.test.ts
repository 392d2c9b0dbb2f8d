import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Clock, NS_PER_MS, NS_PER_S } from "../../hw-emu/sim/clock.js";
import { Random } from "../../hw-emu/sim/random.js";
import { AddressPicker } from "../../hw-emu/sim/workload.js";
import { DmaTraffic, type DmaOp } from "../../hw-emu/sim/dma-traffic.js";
import { GuestWrites } from "../../hw-emu/sim/guest-writes.js";
import { GuestMemory } from "../../hw-emu/hw/memory.js";

describe("Clock", () => {
  it("runs events in time order, ties in scheduling order", () => {
    const c = new Clock({ log: true });
    const seen: string[] = [];
    c.at(20, () => seen.push("b"), "b");
    c.at(10, () => seen.push("a"), "a");
    c.at(20, () => seen.push("c"), "c");
    c.at(5, () => c.after(15, () => seen.push("d"), "d"), "x"); // scheduled later, same time as b,c
    c.runAll();
    expect(seen).toEqual(["a", "b", "c", "d"]);
    expect(c.now).toBe(20);
    expect(c.log!.map((e) => e.label)).toEqual(["x", "a", "b", "c", "d"]);
  });

  it("runUntil stops at the limit and advances time; cancel removes events", () => {
    const c = new Clock();
    const seen: number[] = [];
    const e = c.at(50, () => seen.push(50));
    c.at(150, () => seen.push(150));
    c.runUntil(100);
    expect(seen).toEqual([50]);
    expect(c.now).toBe(100);
    expect(c.pending).toBe(1);
    const f = c.after(10, () => seen.push(110));
    f.cancel();
    e.cancel(); // already ran: no effect
    expect(c.pending).toBe(1);
    c.advance(100);
    expect(seen).toEqual([50, 150]);
    expect(() => c.at(5, () => {})).toThrow(/past/);
    expect(() => c.after(-1, () => {})).toThrow(RangeError);
  });

  it("refuses re-entrant runs and bounds runaway schedules", () => {
    const c = new Clock();
    c.at(1, () => c.advance(1));
    expect(() => c.runAll()).toThrow(/re-entrant/);
    const d = new Clock();
    const loop = () => d.after(1, loop);
    loop();
    expect(() => d.runAll(100)).toThrow(/still busy/);
  });

  it("keeps order for any schedule (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (times) => {
        const c = new Clock();
        const ran: [number, number][] = [];
        times.forEach((t, i) => c.at(t, () => ran.push([t, i])));
        c.runAll();
        const expected = times.map((t, i) => [t, i] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(ran).toEqual(expected);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe("Random", () => {
  it("is reproducible per seed and differs across seeds", () => {
    const a = new Random(7);
    const b = new Random(7);
    const c = new Random(8);
    const xs = Array.from({ length: 5 }, () => a.u32());
    expect(Array.from({ length: 5 }, () => b.u32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.u32())).not.toEqual(xs);
    expect(new Random(2 ** 40).u32()).not.toBe(new Random(0).u32());
  });

  it("stays in range for int, float, pick and shuffle", () => {
    const r = new Random(1);
    for (let i = 0; i < 2000; i++) {
      const x = r.int(-3, 3);
      expect(x).toBeGreaterThanOrEqual(-3);
      expect(x).toBeLessThanOrEqual(3);
      const f = r.float();
      expect(f >= 0 && f < 1).toBe(true);
      const big = r.int(0, 2 ** 40);
      expect(big >= 0 && big <= 2 ** 40 && Number.isInteger(big)).toBe(true);
    }
    expect(["a", "b"]).toContain(r.pick(["a", "b"]));
    expect(r.shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(() => r.int(2, 1)).toThrow(RangeError);
    expect(() => r.pick([])).toThrow(RangeError);
  });

  it("is roughly uniform", () => {
    const r = new Random(99);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[r.int(0, 9)]++;
    for (const n of counts) expect(Math.abs(n - 10_000)).toBeLessThan(600);
  });
});

describe("workloads", () => {
  it("address pickers follow their locality", () => {
    const region = { base: 0x10000, length: 100 * 4096 };
    const seq = new AddressPicker(region, 4096, { kind: "sequential" }, new Random(1));
    expect([seq.next(), seq.next()]).toEqual([0x10000, 0x11000]);
    for (let i = 0; i < 98; i++) seq.next();
    expect(seq.next()).toBe(0x10000);
    const hot = new AddressPicker(region, 4096, { kind: "hot-set", hotFraction: 0.1, hotProbability: 1 }, new Random(1));
    for (let i = 0; i < 200; i++) expect(hot.next()).toBeLessThan(0x10000 + 10 * 4096);
  });

  it("DMA traffic keeps its rate and stops cleanly", () => {
    const clock = new Clock();
    const ops: DmaOp[] = [];
    const w = new DmaTraffic(clock, new Random(3), { region: { base: 0, length: 1 << 20 }, bytesPerSecond: 64 * 1024 * 1000, size: 64 * 1024 }, (op) => ops.push({ ...op, data: op.data.slice(0, 8) }));
    w.start();
    clock.advance(10 * NS_PER_MS);
    expect(ops.length).toBe(11); // t = 0, 1 ms, ..., 10 ms
    expect(ops.every((o) => o.kind === "write" && o.iova % 65536 === 0)).toBe(true);
    w.stop();
    clock.advance(NS_PER_S);
    expect(ops.length).toBe(11);
    expect(w.running).toBe(false);
    expect(w.stats).toEqual({ ops: 11, bytes: 11 * 65536 });
  });

  it("keeps a fractional-ns rate without drift", () => {
    const clock = new Clock();
    let n = 0;
    // one 64-byte op every 2.5 ns
    const w = new DmaTraffic(clock, new Random(1), { region: { base: 0, length: 4096 }, bytesPerSecond: 25.6e9, size: 64 }, () => n++);
    w.start();
    clock.runUntil(1000);
    w.stop();
    expect(n).toBe(401);
  });

  it("a sink may stop its workload", () => {
    const clock = new Clock();
    let n = 0;
    const w: DmaTraffic = new DmaTraffic(clock, new Random(3), { region: { base: 0, length: 4096 }, bytesPerSecond: 4096e6, size: 4096 }, () => {
      if (++n === 3) w.stop();
    });
    w.start();
    clock.advance(NS_PER_MS);
    expect(n).toBe(3);
  });

  it("guest writes dirty the requested number of pages per second", () => {
    const clock = new Clock();
    const pages = new Set<number>();
    let writes = 0;
    const w = new GuestWrites(clock, new Random(5), { workingSet: { base: 0, length: 1 << 30 }, pagesPerSecond: 2500, tickNs: 10 * NS_PER_MS }, (gpa, data) => {
      writes++;
      pages.add(Math.floor(gpa / 4096));
      expect(data.length).toBe(8);
      expect(Math.floor(gpa / 4096)).toBe(Math.floor((gpa + 7) / 4096));
    });
    w.start();
    clock.runUntil(NS_PER_S - 1);
    expect(writes).toBe(2500);
    expect(pages.size).toBeGreaterThan(2400);
  });

  it("guest writes change rate from the next tick", () => {
    const clock = new Clock();
    let writes = 0;
    const w = new GuestWrites(clock, new Random(5), { workingSet: { base: 0, length: 1 << 24 }, pagesPerSecond: 1500, tickNs: NS_PER_MS }, () => writes++);
    w.start();
    clock.runUntil(NS_PER_S / 2 - 1);
    expect(writes).toBe(750);
    // a vCPU throttled by 50%: half the stores
    w.setPagesPerSecond(750);
    expect(w.pagesPerSecond).toBe(750);
    clock.runUntil(NS_PER_S - 1);
    expect(writes).toBe(750 + 375);
    w.setPagesPerSecond(0);
    clock.runUntil(2 * NS_PER_S - 1);
    expect(writes).toBe(1125);
    expect(() => w.setPagesPerSecond(-1)).toThrow(/non-negative/);
    expect(() => w.setPagesPerSecond(Number.NaN)).toThrow(/non-negative/);
  });

  it("the same seed gives byte-identical memory and identical event logs", () => {
    function run(seed: number) {
      const clock = new Clock({ log: true });
      const rng = new Random(seed);
      const mem = new GuestMemory({ size: 2 ** 32 });
      const cpu = new GuestWrites(clock, rng.fork(), { workingSet: { base: 0, length: 2 ** 28 }, pagesPerSecond: 50_000, locality: { kind: "hot-set" } }, (gpa, d) => mem.write(gpa, d));
      const dev = new DmaTraffic(clock, rng.fork(), { region: { base: 2 ** 31, length: 2 ** 24 }, bytesPerSecond: 2 ** 30, size: 8192, arrivals: "poisson", readFraction: 0.2 }, (op) => {
        if (op.kind === "write") mem.write(op.iova, op.data);
      });
      cpu.start();
      dev.start(12345);
      clock.advance(20 * NS_PER_MS);
      return { digest: mem.digest(), log: JSON.stringify(clock.log), pages: mem.allocatedPages };
    }
    const a = run(11);
    const b = run(11);
    const c = run(12);
    expect(a).toEqual(b);
    expect(c.digest).not.toBe(a.digest);
    expect(a.pages).toBeGreaterThan(900);
  });
});
