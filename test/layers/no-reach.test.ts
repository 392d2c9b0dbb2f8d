/**
 * A grep-level guard beside dependency-cruiser: no file above hw-emu (cli/, docs-site/,
 * kernel-lib/, the notebooks' cells) imports the emulated kernel or the hardware
 * (hw-emu/kernel/, hw-emu/hw/), and none reaches the hardware through a property chain
 * (`machine.hw...`). The lab, handed out by the emulator backend, is the only door.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const ABOVE_HW_EMU = ["cli", "docs-site", "kernel-lib"];
const FORBIDDEN = /^hw-emu\/(kernel|hw)\//;
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["'`]([^"'`]+)["'`]/g;
/** `.hw` as a property (not `.hw-emu` in a path), `["hw"]`, or `hw` taken out by destructuring */
const PROPERTY = [/\.hw\b(?![-\w])/, /\[\s*["'`]hw["'`]\s*\]/, /\{[^}]*\bhw\b[^}]*\}\s*=/];

interface Source {
  /** repository path, or NOTEBOOK.ipynb#cell-N */
  name: string;
  /** folder that relative imports start from */
  dir: string;
  text: string;
}

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|cts|js|mjs)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

function sources(): Source[] {
  const out: Source[] = [];
  for (const top of ABOVE_HW_EMU) {
    for (const f of tsFiles(join(root, top))) out.push({ name: relative(root, f), dir: dirname(f), text: readFileSync(f, "utf8") });
  }
  const nbDir = join(root, "notebooks");
  for (const nb of existsSync(nbDir) ? readdirSync(nbDir).filter((f) => f.endsWith(".ipynb")) : []) {
    const cells = (JSON.parse(readFileSync(join(nbDir, nb), "utf8")) as { cells: { cell_type: string; source: string[] | string }[] }).cells;
    cells.forEach((c, i) => {
      if (c.cell_type === "code") out.push({ name: `notebooks/${nb}#cell-${i + 1}`, dir: nbDir, text: Array.isArray(c.source) ? c.source.join("") : c.source });
    });
  }
  return out;
}

/** The text without comments, so prose about `machine.hw` does not count (string contents stay). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

describe("nothing above hw-emu reaches past the syscall door and the lab", () => {
  const all = sources();

  it("reads the layers above hw-emu", () => {
    expect(all.filter((s) => s.name.startsWith("kernel-lib/")).length).toBeGreaterThan(50);
    expect(all.filter((s) => s.name.startsWith("cli/")).length).toBeGreaterThan(5);
  });

  it("imports nothing from hw-emu/kernel/ or hw-emu/hw/", () => {
    const bad: string[] = [];
    for (const s of all) {
      for (const m of code(s.text).matchAll(SPECIFIER)) {
        const spec = m[1]!;
        if (!spec.startsWith(".")) continue;
        const target = relative(root, resolve(s.dir, spec));
        if (FORBIDDEN.test(target)) bad.push(`${s.name} → ${target}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("reaches no hardware through a property chain (machine.hw...)", () => {
    const bad: string[] = [];
    for (const s of all) {
      code(s.text)
        .split("\n")
        .forEach((line, i) => {
          if (PROPERTY.some((re) => re.test(line))) bad.push(`${s.name}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(bad).toEqual([]);
  });

  it("would see a wrong-way import and a property chain", () => {
    const probe = 'import { Iommu } from "../../hw-emu/hw/iommu.js";\nconst m = machine.hw.iommu;\nconst { hw } = machine;\n';
    const spec = [...code(probe).matchAll(SPECIFIER)].map((m) => relative(root, resolve(join(root, "kernel-lib/vmm"), m[1]!)));
    expect(spec.some((t) => FORBIDDEN.test(t))).toBe(true);
    expect(code(probe).split("\n").filter((l) => PROPERTY.some((re) => re.test(l)))).toHaveLength(2);
  });
});
