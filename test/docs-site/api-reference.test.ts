import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import MarkdownIt from "markdown-it";
import { afterAll, describe, expect, it } from "vitest";
import * as lib from "../../kernel-lib/index.js";
import { apiEntryFile, apiReferencePage, readApi, type ApiEntry } from "../../docs-site/api-reference.js";
import { apiInputsHash, cachedApiReferencePage } from "../../docs-site/api-reference-cache.js";
import { CACHE_DIR } from "../../docs-site/cache.js";

const root = new URL("../../", import.meta.url).pathname;
const md = new MarkdownIt();
const fromSources = readApi(apiEntryFile(root));
const page = apiReferencePage(fromSources);
const headings = md
  .parse(page.markdown, {})
  .flatMap((t, i, all) => (t.type === "heading_open" ? [{ level: t.tag, text: all[i + 1]!.content }] : []));

const scratch: string[] = [];
afterAll(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("apiReferencePage", () => {
  it("has a section for every export of kernel-lib/index.ts, values and types", () => {
    expect(page.slug).toBe("api");
    const sectioned = new Set(headings.filter((h) => h.level === "h3" || h.level === "h2").map((h) => h.text));
    const runtime = Object.keys(lib).filter((k) => k !== "default");
    expect(runtime.length).toBeGreaterThan(50);
    for (const name of runtime) expect(sectioned.has(name), name).toBe(true);
    // type-only exports exist only for the compiler: a few the notebooks use
    for (const name of ["ClaimOptions", "ByteMapOptions", "MimeBundle", "DeviceSpec"]) expect(sectioned.has(name), name).toBe(true);
    expect(fromSources.map((e) => e.name)).toEqual(expect.arrayContaining(runtime));
  });

  it("lists every member of the uapi namespace in its table", () => {
    const uapi = fromSources.find((e) => e.name === "uapi")!;
    expect(uapi.kind).toBe("namespace");
    expect(uapi.members!.map((m) => m.name)).toEqual(expect.arrayContaining(Object.keys(lib.uapi)));
    for (const name of Object.keys(lib.uapi)) expect(page.markdown, name).toContain(`| \`${name}\` |`);
  });

  it("gives each entry its kind, signature, doc comment and tags, as the sources have them", () => {
    const byName = new Map(fromSources.map((e) => [e.name, e]));
    const claim = byName.get("claim")!;
    expect(claim.kind).toBe("function");
    expect(claim.signatures).toEqual([
      "function claim(text: string, check: () => boolean, options: ClaimOptions): void",
      "function claim(text: string, check: () => Promise<boolean>, options: ClaimOptions): Promise<void>",
    ]);
    expect(claim.doc).toMatch(/^States `text` and checks it with `check`/);
    expect(claim.definedIn).toMatch(/^kernel-lib\/display\/claim\.ts:\d+$/);
    expect(byName.get("CLAIM_MIME")!.signatures).toEqual(['const CLAIM_MIME: "application/vnd.vfio-workbench.claim+json"']);
    expect(byName.get("ClaimError")!.kind).toBe("class");
    expect(byName.get("ClaimOptions")!.kind).toBe("interface");
    expect(byName.get("ClaimOptions")!.signatures[0]).toMatch(/^interface ClaimOptions \{[\s\S]*source\?: string;[\s\S]*model\?: boolean;/);
    const byteMap = byName.get("byteMap")!;
    expect(byteMap.tags.filter((t) => t.name === "example").length).toBeGreaterThan(0);
  });

  it("reads the same exports, kinds and doc comments from the compiled declarations, as an installed package has them", () => {
    const fromDist = readApi(join(root, "dist", "kernel-lib", "index.d.ts"));
    const summary = (entries: readonly ApiEntry[]) => entries.map((e) => ({ name: e.name, kind: e.kind, doc: e.doc, group: e.definedIn.replace(/^dist\//, "").replace(/\.(d\.)?ts:\d+$/, "") }));
    expect(summary(fromDist)).toEqual(summary(fromSources));
  });

  it("is generated from the entry it reads, not written out: a class hides its private members", () => {
    const dir = mkdtempSync(join(tmpdir(), "vfio-workbench-api-"));
    scratch.push(dir);
    mkdirSync(join(dir, "kernel-lib", "part"), { recursive: true });
    writeFileSync(
      join(dir, "kernel-lib", "part", "thing.ts"),
      [
        "/** Adds. @example add(1, 2) */",
        "export function add(a: number, b = 2): number { return a + b; }",
        "/** A counter. */",
        "export class Counter { private n = 0; #m = 1; readonly step: number; bump(): number { return ++this.n; } }",
        "export type Pair = [number, number];",
      ].join("\n"),
    );
    writeFileSync(join(dir, "kernel-lib", "index.ts"), 'export * from "./part/thing.js";\n');
    const entries = readApi(join(dir, "kernel-lib", "index.ts"));
    expect(entries.map((e) => [e.name, e.kind, e.definedIn])).toEqual([
      ["add", "function", "kernel-lib/part/thing.ts:2"],
      ["Counter", "class", "kernel-lib/part/thing.ts:4"],
      ["Pair", "type", "kernel-lib/part/thing.ts:5"],
    ]);
    expect(entries[0]!.signatures).toEqual(["function add(a: number, b?: number): number"]);
    expect(entries[0]!.tags).toEqual([{ name: "example", text: "add(1, 2)" }]);
    expect(entries[1]!.signatures[0]).toBe("class Counter {\n    readonly step: number;\n    bump(): number;\n}");
    expect(entries[2]!.signatures).toEqual(["type Pair = [\n    number,\n    number\n]"]);
    const page = apiReferencePage(entries);
    expect(page.markdown).toContain("## part\n\n### add\n\n*function* — defined in `kernel-lib/part/thing.ts:2`");
  });
});

describe("cachedApiReferencePage", () => {
  it("keys the page on what it is read from: the same inputs give the same key, a changed source another", () => {
    const dir = mkdtempSync(join(tmpdir(), "vfio-workbench-api-key-"));
    scratch.push(dir);
    mkdirSync(join(dir, "kernel-lib"), { recursive: true });
    writeFileSync(join(dir, "kernel-lib", "index.ts"), "export const a = 1;\n");
    const first = apiInputsHash(dir);
    expect(apiInputsHash(dir)).toBe(first);
    writeFileSync(join(dir, "kernel-lib", "index.ts"), "/** now documented */\nexport const a = 1;\n");
    expect(apiInputsHash(dir)).not.toBe(first);
  });

  it("makes the page once and keeps it in the project's cache; the next build reads it from there", async () => {
    const project = mkdtempSync(join(tmpdir(), "vfio-workbench-api-cache-"));
    scratch.push(project);
    const made = await cachedApiReferencePage(project);
    expect(made).toEqual(page);
    const stored = join(project, CACHE_DIR, "pages", `api-${apiInputsHash()}.json`);
    expect(JSON.parse(readFileSync(stored, "utf8"))).toEqual(page);
    // what is stored is what the next call returns, without reading the package again
    writeFileSync(stored, JSON.stringify({ ...page, title: "from the cache" }));
    expect((await cachedApiReferencePage(project)).title).toBe("from the cache");
  }, 60_000);
});
