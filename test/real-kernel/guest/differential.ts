/**
 * (c) The differential test's real side: the scripted calls against the two
 * mtty instances. Every record goes to the host, which compares it with the
 * emulator's run and writes the table of known differences. The guest also
 * compares, against the emulated run the host packed into the initramfs, so
 * the guest's own summary counts the calls that matched.
 */
import type { Syscalls } from "../../../hw-emu/uapi/index.js";
import { compareRuns, type KnownDifferences } from "../shared/compare.js";
import { runDifferential, type DiffDevice, type DiffRecord } from "../shared/differential.js";
import type { Reporter } from "./report.js";

export function runDifferentialTests(sys: Syscalls, r: Reporter, devices: readonly [DiffDevice, DiffDevice], emulated: readonly DiffRecord[], known: KnownDifferences): void {
  let real: DiffRecord[];
  try {
    real = runDifferential({ sys, devices });
  } catch (e) {
    r.result("differential", "the scripted sequence runs to its end", false, e instanceof Error ? (e.stack ?? e.message) : String(e));
    return;
  }
  for (const record of real) r.record({ t: "diff", record });
  const result = compareRuns(real, emulated, known);
  r.test("differential", `the real and emulated runs line up call by call (${real.length} calls)`, () => {
    if (result.structural.length) throw new Error(result.structural.join("; "));
  });
  for (const c of result.comparisons) {
    const where = c.fields.map((f) => `${f.field}: real ${f.real}, emulated ${f.emulated}`).join("; ");
    if (c.status === "same") r.result("differential", c.step, true);
    else if (c.status === "known") r.result("differential", c.step, true, `known difference: ${where}`);
    else r.result("differential", c.step, false, `unlisted difference: ${where}`);
  }
}
