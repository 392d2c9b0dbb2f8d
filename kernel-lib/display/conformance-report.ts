/** The report as people read it: one row per check, then a summary line. */
import { tableText } from "./table.js";
import type { ConformanceReport } from "../conformance/types.js";

export function reportTable(r: ConformanceReport): string {
  const rows = r.checks.map((c) => ({ id: c.id, result: c.status.toUpperCase(), detail: c.detail }));
  const head = `${r.device}: migration flags ${r.flags}; DMA logging ${r.dmaLogging ? "yes" : "no"}; lab ${r.lab ? "yes" : "no (checks that watch the hardware are skipped)"}`;
  const body = rows.length ? tableText(rows, { columns: ["id", "result", "detail"] }) : "(no checks selected)";
  const verdict = r.failed ? "FAILED" : "PASSED";
  return `${head}\n\n${body}\n\n${verdict}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped\n`;
}
