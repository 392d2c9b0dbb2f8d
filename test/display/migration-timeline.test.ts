import { describe, expect, it } from "vitest";
import { migrationTimeline, VEGALITE_MIME, type MigrationTimeline } from "../../kernel-lib/display/index.js";

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
    expect(spec.title.subtitle).toBe("downtime 13.5 ms · lost P2P writes 0 · late interrupts 1");
    const [gantt, rounds] = spec.vconcat;
    expect(gantt.mark.type).toBe("bar");
    expect(gantt.encoding.y.sort).toEqual(["migration", "nic0"]);
    expect(gantt.data.values).toContainEqual({ phase: "quiesce", lane: "nic0", start: 40, end: 41.5, duration: "1.5 ms" });
    expect(rounds.data.values.map((r: { sent: number }) => r.sent)).toEqual([1, 0.5, 0.25, 0.125]);
    expect(rounds.hconcat[0].encoding.y.axis.title).toBe("bytes sent (GiB)");
    const svg = b.data["image/svg+xml"] as string;
    for (const label of ["pre-copy", "quiesce", "stop-copy", "resume", "nic0", "migration"]) expect(svg).toContain(`>${label}<`);
  });

  it("describes the phases and rounds in plain text", async () => {
    const text = (await migrationTimeline(timeline)).data["text/plain"] as string;
    expect(text.split("\n")[0]).toBe("Migration timeline: downtime 13.5 ms · lost P2P writes 0 · late interrupts 1");
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
