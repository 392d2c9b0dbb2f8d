/**
 * Markdown prose to reST, judged by docutils itself: each case must parse with no warning, and
 * the document tree docutils builds (its XML writer) must hold what the Markdown said.
 */
import { describe, expect, it } from "vitest";
import { markdownToRst } from "../../docs-site/export/markdown-to-rst.js";
import { rstLinkTarget } from "../../docs-site/export/notebook-to-rst.js";
import { docutils } from "./docutils.js";

/** The reST for `md`, after docutils has parsed it cleanly, as docutils' XML (declarations cut). */
function tree(md: string): string {
  const rst = markdownToRst(md, { rewriteLink: rstLinkTarget });
  const r = docutils(rst);
  expect({ rst, stderr: r.stderr, status: r.status }).toEqual({ rst, stderr: "", status: 0 });
  return r.stdout.replace(/^[\s\S]*?<document/, "<document");
}

describe("markdown to reST", () => {
  it("keeps names with underscores as text and escapes what reST would read as markup", () => {
    const xml = tree("Set `VFIO_DEVICE_STATE_STOP` or VFIO_DEVICE_STATE_STOP, not name_ or |sub| or a\\*b* or \\`x\\`.");
    expect(xml).toContain("<paragraph>Set <literal>VFIO_DEVICE_STATE_STOP</literal> or VFIO_DEVICE_STATE_STOP, not name_ or |sub| or a*b* or `x`.</paragraph>");
  });

  it("splits bold text around an inline literal (reST does not nest markup) and separates markup touching a word", () => {
    const xml = tree("**the `argsz` field** and **bold**ly and x*em*y");
    expect(xml).toContain("<strong>the</strong> <literal>argsz</literal> <strong>field</strong> and <strong>bold</strong>ly and x<emphasis>em</emphasis>y");
  });

  it("nests sections by order, closing up skipped Markdown levels", () => {
    const xml = tree("# Top\n\ntext\n\n### Skipped to three\n\nmore\n\n## Two\n\nlast\n");
    expect(xml).toMatch(/<document[^>]*title="Top"><title>Top<\/title><paragraph>text<\/paragraph><section[^>]*><title>Skipped to three<\/title><paragraph>more<\/paragraph><\/section><section[^>]*><title>Two<\/title>/);
  });

  it("writes nested lists, a code block inside an item, and a block quote right after a list", () => {
    const xml = tree("- one\n  - one.a\n  - one.b\n- two\n\n  ```ts\n  const x = 1;\n  ```\n\n> quoted\n\n1. first\n2. second\n");
    expect(xml).toMatch(/<bullet_list bullet="-"><list_item><paragraph>one<\/paragraph><bullet_list bullet="-"><list_item><paragraph>one.a<\/paragraph><\/list_item><list_item><paragraph>one.b<\/paragraph><\/list_item><\/bullet_list><\/list_item><list_item><paragraph>two<\/paragraph><literal_block xml:space="preserve">const x = 1;<\/literal_block><\/list_item><\/bullet_list>/);
    expect(xml).toContain("<block_quote><paragraph>quoted</paragraph></block_quote>");
    expect(xml).toMatch(/<enumerated_list enumtype="arabic" prefix="" suffix="."><list_item><paragraph>first<\/paragraph><\/list_item><list_item><paragraph>second<\/paragraph><\/list_item><\/enumerated_list>/);
  });

  it("keeps a paragraph that starts like a list item a paragraph", () => {
    const xml = tree("1\\. not a list\n\n\\- nor this\n\n\\+ nor this\n");
    expect(xml).toContain("<paragraph>1. not a list</paragraph><paragraph>- nor this</paragraph><paragraph>+ nor this</paragraph>");
  });

  it("writes tables as list-tables, header row, empty cells and inline markup included", () => {
    const xml = tree("| state | `value` |\n| --- | --- |\n| STOP | 1 |\n| **RUNNING** | |\n");
    expect(xml).toMatch(/<table><tgroup cols="2">.*<thead><row><entry><paragraph>state<\/paragraph><\/entry><entry><paragraph><literal>value<\/literal><\/paragraph><\/entry><\/row><\/thead><tbody><row><entry><paragraph>STOP<\/paragraph><\/entry><entry><paragraph>1<\/paragraph><\/entry><\/row><row><entry><paragraph><strong>RUNNING<\/strong><\/paragraph><\/entry><entry><paragraph><\/paragraph><\/entry><\/row><\/tbody>/);
  });

  it("writes links anonymously, so equal texts with different targets do not clash, and points notebook links at their pages", () => {
    const xml = tree("[here](https://docs.kernel.org/driver-api/vfio.html) and [here](04-dirty-tracking.ipynb#the-bitmap) and [`code`](https://example.org/a_b)");
    expect(xml).toContain('<reference name="here" refuri="https://docs.kernel.org/driver-api/vfio.html">here</reference>');
    expect(xml).toContain('<reference name="here" refuri="04-dirty-tracking.html#the-bitmap">here</reference>');
    expect(xml).toContain('<reference name="code" refuri="https://example.org/a_b">code</reference>');
  });

  it("keeps a fenced block's text exactly, backslashes and markup characters included", () => {
    const xml = tree("```\nconst re = /a\\*b_/; // `x` **y**\n\tindented\n```\n");
    expect(xml).toContain('<literal_block xml:space="preserve">const re = /a\\*b_/; // `x` **y**\n        indented</literal_block>');
  });
});
