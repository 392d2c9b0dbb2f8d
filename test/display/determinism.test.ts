/**
 * Every helper's output is the same bytes when rendered twice in one process,
 * even when other charts in between advanced Plot's and Vega's id counters.
 */
import { describe, expect, it } from "vitest";
import {
  byteMap,
  dirtyHeatmap,
  fsmDiagram,
  isMimeBundle,
  migrationTimeline,
  Plot,
  plotChart,
  table,
  vegaLiteChart,
  type MimeBundle,
} from "../../kernel-lib/display/index.js";
import { vfio_irq_set } from "../../hw-emu/uapi/index.js";
import { V2_FSM } from "./fsm-table.js";

const helpers: [string, () => MimeBundle | Promise<MimeBundle>][] = [
  ["plotChart", () => plotChart({ title: "t", color: { legend: true }, marks: [Plot.barY([{ k: "a", v: 1 }, { k: "b", v: 2 }], { x: "k", y: "v", fill: "k", clip: true })] })],
  [
    "vegaLiteChart",
    () =>
      vegaLiteChart({
        data: { values: [{ k: "a", v: 1 }, { k: "b", v: 2 }] },
        mark: { type: "bar", clip: true },
        encoding: { x: { field: "k", type: "nominal" }, y: { field: "v", type: "quantitative" }, color: { field: "v", type: "quantitative" } },
      }),
  ],
  ["fsmDiagram", () => fsmDiagram(V2_FSM, { flags: { p2p: true, preCopy: true }, path: ["RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"] })],
  ["byteMap", () => byteMap(vfio_irq_set, vfio_irq_set.encode({ flags: 0x24, count: 2 }))],
  ["dirtyHeatmap", () => dirtyHeatmap({ iovaBase: 0x10000, pageSize: 4096, pages: 4096, syncs: [{ timeNs: 0, dirty: [1, 2, 3, 4000] }, { timeNs: 5e5, dirty: [9] }] })],
  [
    "migrationTimeline",
    () =>
      migrationTimeline({
        phases: [{ name: "pre-copy", startNs: 0, endNs: 9e6 }, { name: "stop-copy", startNs: 9e6, endNs: 12e6, device: "nic0" }],
        iterations: [{ index: 0, startNs: 0, endNs: 9e6, bytesSent: 1 << 20, dirtyPages: 40 }],
        downtimeNs: 3e6,
        lostP2PWrites: 0,
        lateInterrupts: 0,
      }),
  ],
  ["table", () => table([{ a: "<x>", b: 1 }], { caption: "c" })],
];

/** Charts with clips, gradients and legends, to advance the process-wide id counters. */
async function disturb(): Promise<void> {
  plotChart({ marks: [Plot.lineY([3, 1, 2], { clip: true })] });
  plotChart({ marks: [Plot.areaY([1, 2, 1], { clip: true })] });
  await vegaLiteChart({
    data: { values: [{ x: 1, y: 2 }] },
    mark: { type: "point", clip: true },
    encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" }, color: { field: "y", type: "quantitative" } },
  });
}

describe("display outputs are deterministic", () => {
  for (const [name, render] of helpers) {
    it(`${name} renders byte-identically after other charts moved the counters`, async () => {
      const first = await render();
      await disturb();
      const second = await render();
      expect(isMimeBundle(first)).toBe(true);
      expect(JSON.stringify(second.data)).toBe(JSON.stringify(first.data));
      expect(first.data["text/plain"]).toEqual(expect.any(String));
      const svg = first.data["image/svg+xml"];
      if (svg !== undefined) expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    });
  }
});
