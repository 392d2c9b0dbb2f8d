import { describe, expect, it } from "vitest";
import { ensureXmlns, finishSvg, normalizeIds } from "../../kernel-lib/display/svg-ids.js";

const chart = (n: number) =>
  `<svg width="10" height="10"><defs><clipPath id="clip${n}"><rect/></clipPath><linearGradient id="gradient_${n + 1}"/></defs>` +
  `<g clip-path="url(#clip${n})"><path fill="url(#gradient_${n + 1})"/><use href="#clip${n}"/><use xlink:href="#clip${n}"/></g></svg>`;

describe("normalizeIds", () => {
  it("gives the same markup whatever the counters were", () => {
    expect(normalizeIds(chart(3))).toBe(normalizeIds(chart(41)));
  });

  it("renames every definition and every reference consistently", () => {
    const out = normalizeIds(chart(7), "t");
    const ids = [...out.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toMatch(/^t-[0-9a-f]{10}-0$/);
    expect(out).toContain(`clip-path="url(#${ids[0]})"`);
    expect(out).toContain(`fill="url(#${ids[1]})"`);
    expect(out).toContain(`href="#${ids[0]}"`);
    expect(out).toContain(`xlink:href="#${ids[0]}"`);
    expect(out).not.toMatch(/clip7|gradient_8/);
  });

  it("gives different charts different ids, so both can sit in one page", () => {
    const a = normalizeIds(chart(1));
    const b = normalizeIds(chart(1).replace("<rect/>", "<rect width='5'/>"));
    const idOf = (s: string) => /\sid="([^"]+)"/.exec(s)![1];
    expect(idOf(a)).not.toBe(idOf(b));
  });

  it("leaves markup without ids and references to unknown ids alone, and is idempotent", () => {
    expect(normalizeIds("<svg><g/></svg>")).toBe("<svg><g/></svg>");
    const once = normalizeIds(`<svg><g id="a"/><path fill="url(#elsewhere)"/></svg>`);
    expect(once).toContain("url(#elsewhere)");
    expect(normalizeIds(once)).toBe(once);
  });
});

describe("ensureXmlns", () => {
  it("declares the SVG namespace, and XLink when used", () => {
    expect(ensureXmlns("<svg width='1'><g/></svg>")).toBe(`<svg xmlns="http://www.w3.org/2000/svg" width='1'><g/></svg>`);
    expect(finishSvg(chart(1))).toMatch(/^<svg xmlns:xlink="http:\/\/www.w3.org\/1999\/xlink" xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const already = `<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>`;
    expect(ensureXmlns(already)).toBe(already);
  });

  it("refuses markup that is not an SVG document", () => {
    expect(() => ensureXmlns("<figure><svg/></figure>")).toThrow(/root element is <svg>/);
  });
});
