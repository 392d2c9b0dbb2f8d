import { describe, expect, it } from "vitest";
import { ACCENT, contrastRatio, HEAT_RANGE, INK, ON_FILL, PALETTE } from "../../kernel-lib/display/theme.js";

// white (JupyterLab light, the docs site) and #111 (JupyterLab dark's output background)
const BACKGROUNDS = ["#ffffff", "#111111"];

describe("theme colours read on light and dark backgrounds", () => {
  it("every palette and heat colour keeps 3:1 against both backgrounds", () => {
    for (const c of [...PALETTE, ...HEAT_RANGE, ACCENT]) {
      for (const bg of BACKGROUNDS) expect({ c, bg, ok: contrastRatio(c, bg) >= 3 }).toEqual({ c, bg, ok: true });
    }
  });

  it("text ink keeps 4:1 against both backgrounds", () => {
    for (const bg of BACKGROUNDS) expect(contrastRatio(INK, bg)).toBeGreaterThanOrEqual(4);
  });

  it("white labels on palette fills keep 4.4:1", () => {
    for (const c of [...PALETTE, INK]) expect(contrastRatio(ON_FILL, c)).toBeGreaterThanOrEqual(4.4);
  });

  it("computes WCAG contrast", () => {
    expect(contrastRatio("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrastRatio("#767676", "#ffffff")).toBeCloseTo(4.54, 2);
  });
});
