import { describe, expect, it } from "vitest";
import { parseHTML } from "linkedom";
import { byteMap } from "../../kernel-lib/display/index.js";
import { defineStruct, STRUCTS, vfio_device_feature, vfio_device_feature_mig_state, vfio_irq_set } from "../../hw-emu/uapi/index.js";

function parse(markup: string) {
  return parseHTML(`<html><body>${markup}</body></html>`).document;
}

/** Byte cells of the HTML grid: the cells whose text is two hex digits. */
function htmlByteCells(html: string): string[] {
  return [...parse(html).querySelectorAll("div[role=figure] > div")].map((d) => d.textContent!).filter((t) => /^[0-9a-f]{2}$/.test(t));
}

function svgByteCells(svg: string): string[] {
  return [...parse(svg).querySelectorAll("g.part > text")].map((t) => t.textContent!).filter((t) => /^[0-9a-f]{2}$/.test(t));
}

describe("byteMap", () => {
  it("returns text, HTML and SVG with xmlns", () => {
    const b = byteMap(vfio_device_feature_mig_state, vfio_device_feature_mig_state.encode({ device_state: 2, data_fd: -1 }));
    expect(Object.keys(b.data).sort()).toEqual(["image/svg+xml", "text/html", "text/plain"]);
    expect(b.data["image/svg+xml"]).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(b.data["text/plain"]).toBe(
      [
        "struct vfio_device_feature_mig_state: 8 bytes",
        "offset  bytes        field         type  value  meaning",
        "------  -----------  ------------  ----  -----  -------",
        "0x0000  02 00 00 00  device_state  u32   2      RUNNING",
        "0x0004  ff ff ff ff  data_fd       s32   -1",
      ].join("\n"),
    );
  });

  it("shows every field of every uAPI struct, and every byte, in all three forms", () => {
    for (const [name, def] of Object.entries(STRUCTS)) {
      const bytes = new Uint8Array(def.size).map((_, i) => (i * 37 + 11) & 0xff);
      const b = byteMap(def, bytes);
      const text = b.data["text/plain"] as string;
      const html = b.data["text/html"] as string;
      const svg = b.data["image/svg+xml"] as string;
      const legend = [...parse(html).querySelectorAll("tbody tr td:first-child")].map((td) => td.textContent);
      const svgFields = new Set([...parse(svg).querySelectorAll("g.part")].map((g) => g.getAttribute("data-field")));
      for (const f of def.fields) {
        expect({ name, field: f.name, inText: text.includes(` ${f.name} `) || text.includes(` ${f.name}\n`) || text.endsWith(` ${f.name}`) }).toEqual({ name, field: f.name, inText: true });
        expect({ name, field: f.name, inLegend: legend.includes(f.name) }).toEqual({ name, field: f.name, inLegend: true });
        expect({ name, field: f.name, inSvg: svgFields.has(f.name) }).toEqual({ name, field: f.name, inSvg: true });
      }
      const hex = Array.from(bytes, (x) => x.toString(16).padStart(2, "0"));
      expect({ name, cells: htmlByteCells(html) }).toEqual({ name, cells: hex });
      expect({ name, cells: svgByteCells(svg) }).toEqual({ name, cells: hex });
    }
  });

  it("names padding between fields and flags non-zero padding", () => {
    const padded = defineStruct("padded", [
      ["a", "u8"],
      ["b", "u32"],
      ["c", "u64"],
    ]);
    const bytes = padded.encode({ a: 1, b: 2, c: 3n });
    bytes[2] = 0x5a;
    const text = byteMap(padded, bytes).data["text/plain"] as string;
    expect(text).toMatch(/^0x0001  00 5a 00 +\(padding\) +pad +non-zero padding$/m);
    expect(text).toMatch(/^0x0008  03 00 00 00 00 00 00 00 +c +u64 +0x3$/m);
  });

  it("draws the bytes past the struct as its flexible array, truncating long tails", () => {
    const raw = new Uint8Array(vfio_irq_set.size + 300).fill(7);
    vfio_irq_set.encodeInto(raw, 0, { argsz: raw.length, flags: 0x24, index: 2, start: 0, count: 75 });
    const b = byteMap(vfio_irq_set, raw, { maxTailBytes: 16 });
    const text = b.data["text/plain"] as string;
    expect(text.split("\n")[0]).toBe("struct vfio_irq_set: 20 bytes + 300 bytes of data[] (1-byte elements)");
    expect(text).toContain("DATA_EVENTFD | ACTION_TRIGGER");
    expect(text).toContain("(284 more bytes not shown)");
    expect(htmlByteCells(b.data["text/html"] as string)).toHaveLength(20 + 16);
    expect(svgByteCells(b.data["image/svg+xml"] as string)).toHaveLength(20 + 16);
  });

  it("escapes names and values in HTML and SVG", () => {
    const odd = defineStruct("odd<struct>", [["x&<y>", "u32"]]);
    const b = byteMap(odd, odd.encode({}));
    for (const m of [b.data["text/html"], b.data["image/svg+xml"]] as string[]) {
      expect(m).not.toContain("<y>");
      expect(m).toContain("x&amp;&lt;y&gt;");
    }
  });

  it("lays out rows of the requested width and refuses nonsense widths", () => {
    const b = byteMap(vfio_irq_set, vfio_irq_set.encode({}), { bytesPerRow: 4 });
    const offsets = [...parse(b.data["text/html"] as string).querySelectorAll("div[role=figure] > div")].map((d) => d.textContent).filter((t) => /^0x/.test(t!));
    expect(offsets).toEqual(["0x0000", "0x0004", "0x0008", "0x000c", "0x0010"]);
    expect(() => byteMap(vfio_irq_set, vfio_irq_set.encode({}), { bytesPerRow: 0 })).toThrow(/bytesPerRow/);
  });

  it("draws a feature header and its payload struct as one argument", () => {
    const arg = new Uint8Array(16);
    arg.set(vfio_device_feature.encode({ argsz: 16, flags: 0x20002 }));
    arg.set(vfio_device_feature_mig_state.encode({ device_state: 3, data_fd: -1 }), 8);
    const b = byteMap(vfio_device_feature, arg, { payload: vfio_device_feature_mig_state });
    expect(b.data["text/plain"]).toBe(
      [
        "struct vfio_device_feature + struct vfio_device_feature_mig_state: 16 bytes",
        "offset  bytes        field              type  value    meaning",
        "------  -----------  -----------------  ----  -------  ----------------------",
        "0x0000  10 00 00 00  argsz              u32   16",
        "0x0004  02 00 02 00  flags              u32   0x20002  MIG_DEVICE_STATE | SET",
        "0x0008  03 00 00 00  data.device_state  u32   3        STOP_COPY",
        "0x000c  ff ff ff ff  data.data_fd       s32   -1",
      ].join("\n"),
    );
    expect(htmlByteCells(b.data["text/html"] as string)).toEqual(Array.from(arg, (x) => x.toString(16).padStart(2, "0")));
    const svgFields = [...parse(b.data["image/svg+xml"] as string).querySelectorAll("g.part")].map((g) => g.getAttribute("data-field"));
    expect(svgFields).toEqual(["argsz", "flags", "data.device_state", "data.data_fd"]);
  });

  it("counts bytes past the payload as trailing bytes, and refuses a payload that does not fit", () => {
    const arg = new Uint8Array(20);
    arg.set(vfio_device_feature.encode({ argsz: 20, flags: 0x10002 }));
    const b = byteMap(vfio_device_feature, arg, { payload: vfio_device_feature_mig_state });
    expect((b.data["text/plain"] as string).split("\n")[0]).toBe("struct vfio_device_feature + struct vfio_device_feature_mig_state: 16 bytes + 4 bytes of trailing bytes");
    expect(() => byteMap(vfio_device_feature, arg.subarray(0, 12), { payload: vfio_device_feature_mig_state })).toThrow(
      /12 bytes cannot hold struct vfio_device_feature \(8 bytes\) followed by struct vfio_device_feature_mig_state \(8 bytes\)/,
    );
  });

  it("puts a title before the struct's name in every form", () => {
    const b = byteMap(vfio_device_feature_mig_state, vfio_device_feature_mig_state.encode({ device_state: 1 }), { title: "GET as the kernel left it" });
    const heading = "GET as the kernel left it: struct vfio_device_feature_mig_state: 8 bytes";
    expect((b.data["text/plain"] as string).split("\n")[0]).toBe(heading);
    expect(b.data["text/html"]).toContain(heading);
    expect(b.data["image/svg+xml"]).toContain(heading);
  });

  it("renders identically twice", () => {
    const bytes = vfio_irq_set.encode({ flags: 0x24, count: 1 });
    expect(byteMap(vfio_irq_set, bytes).data).toEqual(byteMap(vfio_irq_set, bytes).data);
  });
});
