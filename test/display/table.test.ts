import { describe, expect, it } from "vitest";
import MarkdownIt from "markdown-it";
import { parseHTML } from "linkedom";
import { table } from "../../kernel-lib/display/index.js";

const hostile = [
  { name: "<script>alert(1)</script>", note: "a | b & c", n: 1 },
  { name: "*bold* _it_ `code` $x$ [l](u)", note: "line1\nline2", n: 22n },
];

describe("table", () => {
  it("returns HTML, Markdown and plain text", () => {
    const b = table([{ state: "RUNNING", value: 2 }], { caption: "states" });
    expect(Object.keys(b.data).sort()).toEqual(["text/html", "text/markdown", "text/plain"]);
  });

  it("escapes HTML in cells, headers and caption", () => {
    const b = table(hostile, { caption: "<b>cap</b>", columns: ["name", { key: "note", label: "<i>note</i>" }, "n"] });
    const html = b.data["text/html"] as string;
    expect(html).not.toMatch(/<script|<b>|<i>/);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    const doc = parseHTML(`<html><body>${html}</body></html>`).document;
    expect(doc.querySelector("caption")!.textContent).toBe("<b>cap</b>");
    expect([...doc.querySelectorAll("th")].map((t) => t.textContent)).toEqual(["name", "<i>note</i>", "n"]);
    expect(doc.querySelector("tbody tr td")!.textContent).toBe("<script>alert(1)</script>");
  });

  it("escapes Markdown so each cell renders as its literal text", () => {
    const md = table(hostile).data["text/markdown"] as string;
    const rendered = new MarkdownIt({ html: true }).render(md);
    expect(rendered).not.toMatch(/<script|<em>|<strong>|<code>|<a /);
    const doc = parseHTML(`<html><body>${rendered}</body></html>`).document;
    const cells = [...doc.querySelectorAll("tbody td")].map((td) => td.textContent);
    expect(cells).toEqual(["<script>alert(1)</script>", "a | b & c", "1", "*bold* _it_ `code` $x$ [l](u)", "line1line2", "22"]);
    expect(doc.querySelectorAll("tbody tr")).toHaveLength(2);
  });

  it("aligns plain text, numbers to the right", () => {
    const text = table([{ state: "RUNNING", value: 2 }, { state: "STOP", value: 11n }], { caption: "states" }).data["text/plain"];
    expect(text).toBe(["states", "state    value", "-------  -----", "RUNNING      2", "STOP        11"].join("\n"));
  });

  it("takes columns in order with labels, alignment and formatting", () => {
    const rows = [{ a: 1, b: new Uint8Array([1, 255]), c: null }];
    const b = table(rows, { columns: [{ key: "b", label: "bytes" }, { key: "a", align: "center", format: (v) => `#${String(v)}` }, "c"] });
    expect(b.data["text/plain"]).toBe(["bytes  a   c", "-----  --  -", "01 ff  #1"].join("\n"));
    expect(b.data["text/markdown"]).toContain("| :--- | :---: | :--- |");
  });

  it("refuses a table without columns", () => {
    expect(() => table([])).toThrow(/at least one column/);
  });

  it("renders identically twice", () => {
    expect(table(hostile).data).toEqual(table(hostile).data);
  });
});
