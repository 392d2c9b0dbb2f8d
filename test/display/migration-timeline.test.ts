import { describe, expect, it } from "vitest";
import { migrationTimeline, VEGALITE_MIME, type MigrationTimeline } from "../../kernel-lib/display/index.js";
import { phaseColours } from "../../kernel-lib/display/migration-timeline.js";
import { PALETTE } from "../../kernel-lib/display/theme.js";

const timeline: MigrationTimeline = {
  phases: [
    { name: "pre-copy", startNs: 0, endNs: 40_000_000 },
    { name: "pre-copy", startNs: 0, endNs: 38_000_000, device: "nic0" },
    { name: "quiesce", startNs: 40_000_000, endNs: 41_500_000, device: "nic0" },
    { name: "stop-copy", startNs: 41_500_000, endNs: 52_000_000 },
    { name: "resume", startNs: 52_000_000, endNs: 55_000_000, device: "nic0" },
  ],
  iterations: [0, 1, 2, 3].map((i) => ({ index: i, startNs: i * 10_000_000, endNs: (i + 1) * 10_000_000, bytesSent: 2 ** 30 / 2 ** i, dirtyPages: 60_000 >> i })),
  downtimeNs: 13_500_000,
  lostP2PWrites: 0,
  lateInterrupts: 1,
};

describe("migrationTimeline", () => {
  it("emits a Gantt chart of phases and per-round bars, with fallbacks", async () => {
    const b = await migrationTimeline(timeline);
    expect(Object.keys(b.data).sort()).toEqual([VEGALITE_MIME, "image/svg+xml", "text/html", "text/plain"].sort());
    expect(b.data["image/svg+xml"]).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const spec = b.data[VEGALITE_MIME] as Record<string, any>;
    expect(spec.title.subtitle).toBe("downtime 13.5 ms · peer-to-peer writes lost 0 · interrupts delivered after resume 1");
    const [gantt, rounds] = spec.vconcat;
    expect(gantt.mark.type).toBe("bar");
    expect(gantt.encoding.y.sort).toEqual(["migration", "nic0"]);
    expect(gantt.data.values).toContainEqual({ phase: "quiesce", lane: "nic0", start: 40, end: 41.5, duration: "1.5 ms" });
    expect(rounds.data.values.map((r: { sent: number }) => r.sent)).toEqual([1, 0.5, 0.25, 0.125]);
    expect(rounds.hconcat[0].encoding.y.axis.title).toBe("bytes sent in the round (GiB)");
    const svg = b.data["image/svg+xml"] as string;
    for (const label of ["pre-copy", "quiesce", "stop-copy", "resume", "nic0", "migration"]) expect(svg).toContain(`>${label}<`);
  });

  it("names what each axis measures", async () => {
    const spec = (await migrationTimeline({ ...timeline, phases: timeline.phases.map((p) => ({ ...p, startNs: p.startNs + 5e6, endNs: p.endNs + 5e6 })) })).data[VEGALITE_MIME] as Record<string, any>;
    const [gantt, rounds] = spec.vconcat;
    // the origin is the first phase's start, named by that phase, not a bare offset
    expect(gantt.encoding.x.axis.title).toBe("simulated time since pre-copy began (ms)");
    expect(gantt.data.values[0].start).toBe(0);
    expect(rounds.hconcat[0].encoding.x.axis.title).toBe("copy round (number)");
    expect(rounds.hconcat[1].encoding.y.axis.title).toBe("pages sent as dirty");
  });

  it("shows lost interrupts apart from late ones when the producer counts them", async () => {
    const spec = (await migrationTimeline({ ...timeline, lateInterrupts: 7, lostInterrupts: 2 })).data[VEGALITE_MIME] as Record<string, any>;
    expect(spec.title.subtitle).toBe("downtime 13.5 ms · peer-to-peer writes lost 0 · interrupts delivered after resume 7 · interrupts lost 2");
  });

  it("gives every phase the orchestrator reports a colour of its own", async () => {
    const names = ["setup", "pre-copy", "quiesce", "stop", "stop-copy", "resume", "config", "irq-restore", "start", "run", "cleanup", "abort"];
    const phases = names.map((name, i) => ({ name, startNs: i * 1e6, endNs: (i + 1) * 1e6, ...(i % 2 ? { device: "nic0" } : {}) }));
    const spec = (await migrationTimeline({ ...timeline, phases })).data[VEGALITE_MIME] as Record<string, any>;
    const scale = spec.vconcat[0].encoding.color.scale;
    expect(scale.domain).toEqual(names);
    expect(new Set(scale.range).size).toBe(names.length);
    for (const c of scale.range) expect(PALETTE).toContain(c);
    // a phase keeps its colour whatever else the chart shows
    expect(phaseColours(["stop", "quiesce"])).toEqual(phaseColours(["quiesce", "stop"]).reverse());
  });

  it("gives names it does not know the colours no known phase of the chart uses", () => {
    const c = phaseColours(["pre-copy", "x", "y"]);
    expect(new Set(c).size).toBe(3);
    expect(c[1]).not.toBe(c[0]);
    // thirteen names cannot all differ with twelve colours; only then do they repeat
    const many = phaseColours(Array.from({ length: 13 }, (_, i) => `p${i}`));
    expect(new Set(many).size).toBe(PALETTE.length);
  });

  it("describes the phases and rounds in plain text", async () => {
    const text = (await migrationTimeline(timeline)).data["text/plain"] as string;
    expect(text.split("\n")[0]).toBe("Migration timeline: downtime 13.5 ms · peer-to-peer writes lost 0 · interrupts delivered after resume 1");
    expect(text).toMatch(/^quiesce +nic0 +40 ms +41\.5 ms +1\.5 ms$/m);
    expect(text).toMatch(/^ +1 +10 ms +512 MiB +30000$/m);
  });

  it("draws a timeline with only phases, or only rounds", async () => {
    const phasesOnly = (await migrationTimeline({ ...timeline, iterations: [] })).data[VEGALITE_MIME] as Record<string, any>;
    expect(phasesOnly.vconcat).toHaveLength(1);
    const roundsOnly = (await migrationTimeline({ ...timeline, phases: [] })).data[VEGALITE_MIME] as Record<string, any>;
    expect(roundsOnly.vconcat).toHaveLength(1);
    expect(roundsOnly.vconcat[0].hconcat).toHaveLength(2);
  });

  it("refuses an empty timeline and phases that end before they start", async () => {
    await expect(migrationTimeline({ ...timeline, phases: [], iterations: [] })).rejects.toThrow(/at least one phase/);
    await expect(migrationTimeline({ ...timeline, phases: [{ name: "x", startNs: 5, endNs: 4 }] })).rejects.toThrow(/phase x/);
  });

  it("renders identically twice", async () => {
    const a = await migrationTimeline(timeline);
    await migrationTimeline({ ...timeline, iterations: timeline.iterations.slice(1) });
    expect((await migrationTimeline(timeline)).data).toEqual(a.data);
  });
});
