import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { vegaLiteChart, VEGALITE_MIME } from "../../kernel-lib/display/index.js";
import { INK, PALETTE } from "../../kernel-lib/display/theme.js";

const spec = {
  title: "dirty pages",
  data: { values: [{ round: 0, pages: 600 }, { round: 1, pages: 200 }, { round: 2, pages: 90 }] },
  mark: { type: "bar", clip: true },
  encoding: { x: { field: "round", type: "ordinal" }, y: { field: "pages", type: "quantitative" }, color: { field: "pages", type: "quantitative" } },
};

describe("vegaLiteChart", () => {
  it("emits the spec as Vega-Lite 5 JSON with SVG, HTML and text fallbacks", async () => {
    const b = await vegaLiteChart(spec);
    expect(Object.keys(b.data).sort()).toEqual([VEGALITE_MIME, "image/svg+xml", "text/html", "text/plain"].sort());
    expect(VEGALITE_MIME).toBe("application/vnd.vegalite.v5+json");
    const emitted = b.data[VEGALITE_MIME] as Record<string, any>;
    expect(emitted.$schema).toBe("https://vega.github.io/schema/vega-lite/v5.json");
    expect(emitted.mark).toEqual(spec.mark);
    expect(emitted.config.background).toBe("transparent");
    expect(b.data["image/svg+xml"]).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(b.data["text/html"]).toContain("<svg");
    expect(b.data["text/plain"]).toMatch(/^Vega-Lite chart: dirty pages \(\d+×\d+\)$/);
  });

  it("draws text and axes in the theme's grey on a transparent background", async () => {
    const svg = (await vegaLiteChart(spec)).data["image/svg+xml"] as string;
    expect(svg).toContain(`fill="${INK}"`);
    expect(svg).not.toContain('fill="white"');
    expect(svg).not.toContain('fill="#000"');
  });

  it("keeps the caller's config over the theme, key by key", async () => {
    const b = await vegaLiteChart({ ...spec, config: { axis: { labelColor: "#123456" }, range: { category: ["#000000"] } } });
    const config = (b.data[VEGALITE_MIME] as Record<string, any>).config;
    expect(config.axis.labelColor).toBe("#123456");
    expect(config.axis.titleColor).toBe(INK);
    expect(config.range.category).toEqual(["#000000"]);
    expect(config.mark.color).toBe(PALETTE[0]);
  });

  it("can leave out the HTML fallback so JupyterLab picks its Vega renderer", async () => {
    const b = await vegaLiteChart(spec, { html: false, alt: "bars" });
    expect(Object.keys(b.data).sort()).toEqual([VEGALITE_MIME, "image/svg+xml", "text/plain"].sort());
    expect(b.data["text/plain"]).toBe("bars");
  });

  it("is byte-identical across renders, after other charts advanced Vega's clip and gradient counters", async () => {
    const first = await vegaLiteChart(spec);
    for (let i = 0; i < 3; i++) await vegaLiteChart({ ...spec, title: `other ${i}` });
    const second = await vegaLiteChart(spec);
    expect(second.data).toEqual(first.data);
    expect(first.data["image/svg+xml"]).toMatch(/url\(#vl-[0-9a-f]{10}-\d\)/);
  });

  it("refuses specs that are not plain JSON", async () => {
    await expect(vegaLiteChart({ data: { values: [{ a: 1n }] }, mark: "bar" })).rejects.toThrow(/plain JSON/);
  });

  it("never imports vega or vega-lite statically (they use top-level await, which require() refuses)", () => {
    const dir = join(import.meta.dirname, "../../kernel-lib/display");
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
      const src = readFileSync(join(dir, f), "utf8");
      const statics = [...src.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?from\s+"(vega|vega-lite)(?:\/[^"]*)?"/gm)];
      expect({ file: f, statics: statics.map((m) => m[0]) }).toEqual({ file: f, statics: [] });
    }
  });
});
