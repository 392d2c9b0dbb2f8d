/**
 * What the installed package runs must be installed with it: every package the
 * shipped sources import is a runtime dependency, not a devDependency.
 */
import { builtinModules } from "node:module";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> };
const SHIPPED = ["hw-emu", "kernel-lib", "cli", "bench", "docs-site"];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith(".ts") && !p.endsWith(".test.ts") && !p.endsWith(".d.ts") ? [p] : [];
  });
}

/** "@scope/name/sub" -> "@scope/name", "name/sub" -> "name" */
function packageOf(spec: string): string {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

describe("package dependencies", () => {
  it("every package the shipped code imports is a runtime dependency", () => {
    const missing = new Set<string>();
    const seen = new Set<string>();
    for (const dir of SHIPPED) {
      let files: string[];
      try {
        files = sources(join(root, dir));
      } catch {
        continue;
      }
      for (const file of files) {
        const text = readFileSync(file, "utf8");
        for (const m of text.matchAll(/(?:^|\s)(?:import|export)\s[^"';]*?from\s+"([^"]+)"|import\("([^"]+)"\)|require\("([^"]+)"\)/g)) {
          const spec = m[1] ?? m[2] ?? m[3]!;
          // relative and absolute paths (a page's URL such as "/live-runner.js") name files, not packages
          if (spec.startsWith(".") || spec.startsWith("/") || spec.startsWith("node:") || builtinModules.includes(spec)) continue;
          const name = packageOf(spec);
          seen.add(name);
          if (name === "vfio-workbench") continue;
          if (!(name in pkg.dependencies)) missing.add(`${name} (${file.slice(root.length)})`);
        }
      }
    }
    // the scan does find the imports it is meant to check
    for (const known of ["commander", "zeromq", "fast-check", "@observablehq/plot"]) expect(seen).toContain(known);
    expect([...missing]).toEqual([]);
  });
});
