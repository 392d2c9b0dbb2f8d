/**
 * What the guest tells the host. Every machine-readable record is one line,
 * `VWB <json>`, on the guest's second serial port (ttyS1), which carries
 * nothing else; the kernel's console (ttyS0) gets the human-readable TAP lines,
 * where kernel messages may interleave. The last record is the sentinel,
 * `VWB-END <json>`: without it the guest did not finish (a panic, a hang, a
 * crash of node), whatever QEMU's exit status says.
 */
import type { CheckResult } from "../../../kernel-lib/conformance/types.js";
import type { DiffRecord } from "./differential.js";

export const RECORD_PREFIX = "VWB ";
export const SENTINEL_PREFIX = "VWB-END ";

export type SectionName = "edu" | "conformance" | "differential";
export const SECTIONS: readonly SectionName[] = ["edu", "conformance", "differential"];

export interface TestRecord {
  t: "test";
  section: SectionName;
  name: string;
  ok: boolean;
  /** why it failed, or a short note on what was seen */
  detail: string;
}

export interface ConformanceRecord {
  t: "conformance";
  /** which way the device was opened, and which instances */
  run: string;
  flags: string;
  checks: CheckResult[];
}

export interface DiffLine {
  t: "diff";
  record: DiffRecord;
}

export type GuestRecord = TestRecord | ConformanceRecord | DiffLine;

export interface SectionCount {
  passed: number;
  failed: number;
  /** checks that do not apply to the device (conformance checks that need the emulator's lab, say) */
  skipped: number;
}

export interface GuestSummary {
  sections: Record<SectionName, SectionCount>;
  /** the guest kernel's release, as uname reports it */
  kernel: string;
}

export function formatRecord(r: GuestRecord): string {
  return RECORD_PREFIX + JSON.stringify(r);
}

export function formatSentinel(s: GuestSummary): string {
  return SENTINEL_PREFIX + JSON.stringify(s);
}

export interface ParsedGuestOutput {
  records: GuestRecord[];
  /** null when the guest never printed its sentinel */
  summary: GuestSummary | null;
  /** lines that carried the prefix but did not parse (a damaged line is a failure, not noise) */
  damaged: string[];
}

/** Read the results channel (tolerates CR LF line ends and lines without the prefix). */
export function parseGuestOutput(text: string): ParsedGuestOutput {
  const out: ParsedGuestOutput = { records: [], summary: null, damaged: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r+$/, "");
    try {
      if (line.startsWith(SENTINEL_PREFIX)) out.summary = JSON.parse(line.slice(SENTINEL_PREFIX.length)) as GuestSummary;
      else if (line.startsWith(RECORD_PREFIX)) out.records.push(JSON.parse(line.slice(RECORD_PREFIX.length)) as GuestRecord);
    } catch {
      out.damaged.push(line);
    }
  }
  return out;
}
