/**
 * The layer check (tools/check-layers.mjs, run by `npm test`) catches what it is for: a
 * temporary copy of the repository passes it, then takes a commit of deliberate wrong-way
 * imports, and the check fails naming each offending file → file.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const COPIED = ["cli", "docs-site", "kernel-lib", "hw-emu", "bench", "test", "notebooks", "tools", ".dependency-cruiser.cjs", "tsconfig.json", "tsconfig.layers.json", "package.json"];

let copy: string;

function check(): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(copy, "tools/check-layers.mjs"), copy], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function git(...args: string[]): void {
  execFileSync("git", ["-c", "user.name=layers test", "-c", "user.email=layers@test.invalid", ...args], { cwd: copy, stdio: "ignore" });
}

/** Prepend an import to a file of the copy. */
function addImport(file: string, line: string): void {
  const path = join(copy, file);
  writeFileSync(path, `${line}\n${readFileSync(path, "utf8")}`);
}

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), "layers-copy-"));
  for (const entry of COPIED) {
    try {
      cpSync(join(root, entry), join(copy, entry), { recursive: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  symlinkSync(join(root, "node_modules"), join(copy, "node_modules"), "dir");
  git("init", "-q");
  git("add", "-A");
  git("commit", "-q", "-m", "as the repository has it");
});

afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

describe("the layer check", () => {
  it("passes on the repository as it is, with the site and the bin above the library", () => {
    // what the site and the bin will do: docs-site uses kernel-lib (by path or by the
    // package's name), cli uses docs-site
    mkdirSync(join(copy, "docs-site"), { recursive: true });
    writeFileSync(join(copy, "docs-site/layers-probe.ts"), 'import { SimulatedVm } from "vfio-workbench";\nimport { table } from "../kernel-lib/display/index.js";\nexport const probe = [SimulatedVm, table];\n');
    writeFileSync(join(copy, "cli/layers-probe.ts"), 'import { probe } from "../docs-site/layers-probe.js";\nexport const used = probe;\n');
    const r = check();
    expect(r.out).toContain("no dependency violations found");
    expect(r.out).not.toContain("error");
    expect(r.status).toBe(0);
  });

  it("fails on a commit of wrong-way imports, naming each as file → file", () => {
    // inside kernel-lib the package's own name is its top: vmm may not import it
    addImport("kernel-lib/vmm/costs.ts", 'import type { SimulatedVm } from "vfio-workbench";');
    // hw-emu must never import kernel-lib
    addImport("hw-emu/sim/clock.ts", 'import type { VfioError } from "../../kernel-lib/vfio/errors.js";');
    // above hw-emu, hardware is reached through the lab only
    addImport("kernel-lib/vmm/link.ts", 'import type { GuestMemory } from "../../hw-emu/hw/memory.js";');
    // backends may use machine/ and lab/, not the emulated kernel
    addImport("kernel-lib/backends/emu.ts", 'import type { Kernel } from "../../hw-emu/kernel/kernel.js";');
    // iommufd sits below the VFIO core
    addImport("hw-emu/kernel/iommufd/objects.ts", 'import type { VfioDevice } from "../vfio/device.js";');
    // a cycle made only of type imports
    writeFileSync(join(copy, "hw-emu/sim/cycle-a.ts"), 'import type { B } from "./cycle-b.js";\nexport type A = { b?: B };\n');
    writeFileSync(join(copy, "hw-emu/sim/cycle-b.ts"), 'import type { A } from "./cycle-a.js";\nexport type B = { a?: A };\n');
    // a notebook cell importing the library's sources instead of the package (its second code cell)
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [
        { cell_type: "code", id: "a", source: ['import { Container } from "vfio-workbench";\n'], metadata: {}, outputs: [], execution_count: null },
        { cell_type: "code", id: "b", source: ['import { Container } from "../kernel-lib/index.js";\n'], metadata: {}, outputs: [], execution_count: null },
      ],
    };
    writeFileSync(join(copy, "notebooks/layers-probe.ipynb"), JSON.stringify(nb, null, 1));
    git("add", "-A");
    git("commit", "-q", "-m", "wrong-way imports");

    const r = check();
    expect(r.status).toBe(1);
    const lines = r.out.split("\n").map((l) => l.trim());
    const reported = (rule: string, from: string, to: string) => expect(lines).toContain(`error ${rule}: ${from} → ${to}`);
    reported("no-upward-import", "hw-emu/sim/clock.ts", "kernel-lib/vfio/errors.ts");
    reported("no-upward-import", "kernel-lib/vmm/costs.ts", "kernel-lib/index.ts");
    reported("hw-emu-door", "kernel-lib/vmm/link.ts", "hw-emu/hw/memory.ts");
    reported("hw-emu-door", "kernel-lib/backends/emu.ts", "hw-emu/kernel/kernel.ts");
    reported("iommufd-below-vfio", "hw-emu/kernel/iommufd/objects.ts", "hw-emu/kernel/vfio/device.ts");
    reported("notebooks-public-package", "notebooks/layers-probe.ipynb/cell-2.ts", "../kernel-lib/index.js");
    expect(r.out).not.toContain("layers-probe.ipynb/cell-1.ts");
    expect(r.out).toMatch(/error no-cycle: hw-emu\/sim\/cycle-[ab]\.ts → \s*hw-emu\/sim\/cycle-[ab]\.ts →\s*hw-emu\/sim\/cycle-[ab]\.ts/);
  });
});
