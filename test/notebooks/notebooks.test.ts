/**
 * Every notebook is documentation whose claims are checked by its own cells:
 * each one must execute cleanly (cells tagged raises-exception must raise), and
 * twice in a row with identical outputs, since everything is seeded.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runNotebook } from "../../kernel-lib/kernel/runner.js";

const dir = fileURLToPath(new URL("../../notebooks/", import.meta.url));
const notebooks = readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort();

describe("notebooks", () => {
  it("there is at least one", () => expect(notebooks.length).toBeGreaterThan(0));

  for (const name of notebooks) {
    it(`${name} executes without an unexpected error, and identically twice`, async () => {
      const first = await runNotebook(join(dir, name), { timeoutSeconds: 120 });
      expect(first.failures).toEqual([]);
      expect(first.ok).toBe(true);
      const second = await runNotebook(join(dir, name), { timeoutSeconds: 120 });
      const outputs = (r: typeof first) => JSON.stringify(r.notebook.cells.map((c) => (c.cell_type === "code" ? c.outputs : null)));
      expect(outputs(second)).toBe(outputs(first));
    }, 300_000);
  }
});
