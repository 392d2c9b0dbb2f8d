import { describe, expect, it } from "vitest";
import { parseHTML } from "linkedom";
import { Plot, plotChart } from "../../kernel-lib/display/index.js";
import { PALETTE } from "../../kernel-lib/display/theme.js";

const rows = [
  { state: "STOP", n: 3 },
  { state: "RUNNING", n: 5 },
  { state: "STOP_COPY", n: 2 },
];
const bars = () => plotChart({ marks: [Plot.barY(rows, { x: "state", y: "n", fill: "state", clip: true }), Plot.ruleY([0])] });

describe("plotChart", () => {
  it("returns SVG with xmlns, HTML and plain text", () => {
    const b = bars();
    expect(Object.keys(b.data).sort()).toEqual(["image/svg+xml", "text/html", "text/plain"]);
    const svg = b.data["image/svg+xml"] as string;
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(b.data["text/plain"]).toBe("Plot chart (640×400)");
  });

  it("is byte-identical across renders, even after other clipped charts advanced Plot's counters", () => {
    const first = bars();
    for (let i = 0; i < 3; i++) plotChart({ marks: [Plot.lineY([1, 3, 2], { clip: true })] });
    const second = bars();
    expect(second.data).toEqual(first.data);
    expect(first.data["image/svg+xml"]).toMatch(/clip-path="url\(#plot-[0-9a-f]{10}-0\)"/);
  });

  it("colours categories with the theme palette unless a scheme is given", () => {
    const svg = bars().data["image/svg+xml"] as string;
    expect(svg).toContain(`fill="${PALETTE[0]}"`);
    const own = plotChart({ color: { scheme: "greys" }, marks: [Plot.barY(rows, { x: "state", y: "n", fill: "state" })] });
    expect(own.data["image/svg+xml"]).not.toContain(`fill="${PALETTE[0]}"`);
  });

  it("draws the standalone SVG in the theme's grey and leaves HTML to inherit the page colour", () => {
    const b = bars();
    expect(b.data["image/svg+xml"]).toMatch(/^<svg [^>]*color="#787878"/);
    expect(b.data["text/html"]).not.toContain('color="#787878"');
    expect(b.data["text/html"]).toContain("--plot-background: transparent");
  });

  it("turns a figure (title, subtitle, swatch legend, caption) into one SVG", () => {
    const b = plotChart({
      title: "arcs per state",
      subtitle: "emulated device",
      caption: "counts from the path finder",
      color: { legend: true },
      marks: [Plot.barY(rows, { x: "state", y: "n", fill: "state" })],
    });
    const svg = b.data["image/svg+xml"] as string;
    const { document } = parseHTML(`<html><body>${svg}</body></html>`);
    const root = document.querySelector("body > svg")!;
    expect(root.getAttribute("xmlns")).toBe("http://www.w3.org/2000/svg");
    const texts = [...root.querySelectorAll("text")].map((t) => t.textContent);
    for (const t of ["arcs per state", "emulated device", "counts from the path finder", "STOP", "RUNNING", "STOP_COPY"]) expect(texts).toContain(t);
    expect(Number(root.getAttribute("height"))).toBeGreaterThan(400);
    expect(b.data["text/html"]).toMatch(/^<figure/);
    expect(b.data["text/plain"]).toMatch(/^Plot chart: arcs per state \(640×\d+\)$/);
  });

  it("explains the missing canvas when a continuous colour legend is asked for", () => {
    expect(() => plotChart({ color: { legend: true, type: "linear" }, marks: [Plot.dot(rows, { x: "state", y: "n", fill: "n" })] })).toThrow(
      /continuous colour legends need a canvas/,
    );
  });
});
