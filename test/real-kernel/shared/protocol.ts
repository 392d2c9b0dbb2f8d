/**
 * What the guest tells the host. Every machine-readable record is one line,
 * `VWB <json>`, on the guest's second serial port (ttyS1), which carries
 * nothing else; the kernel's console (ttyS0) gets the human-readable TAP lines,
 * where kernel messages may interleave. The last record is the sentinel,
 * `VWB-END <json>`: without it the guest did not finish (a panic, a hang, a
 * crash of node), whatever QEMU's exit status says.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import type { CheckResult } from "../../../kernel-lib/conformance/types.js";
import type { DiffRecord } from "./differential.js";

export const RECORD_PREFIX = "VWB ";
export const SENTINEL_PREFIX = "VWB-END ";

export type SectionName = "edu" | "conformance" | "differential" | "notebooks";
export const SECTIONS: readonly SectionName[] = ["edu", "conformance", "differential", "notebooks"];

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

/** A cell of an executed notebook, as the runner reported it (index: 1-based among code cells). */
export interface NotebookCellNote {
  index: number;
  cellId: string;
  /** for a skipped cell: the tag that decided, or "dependency"; for a failure: its kind */
  cause: string;
  /** the reason shown in the cell's place, or the failure's first line */
  message: string;
}

/** One notebook executed in the guest by the same engine as `check --backend native`. */
export interface NotebookRecord {
  t: "notebook";
  /** as the guest named it, relative to the package: notebooks/00-first-migration.ipynb */
  path: string;
  codeCells: number;
  executedCells: number;
  skipped: NotebookCellNote[];
  failures: NotebookCellNote[];
  /** nbformat problems (the notebook was then not executed) */
  invalid: string[];
  seconds: number;
  /** how many `ipynb` records carry the executed notebook */
  parts: number;
}

/** A slice of an executed notebook's file, gzipped and in base64, sent after its NotebookRecord. */
export interface NotebookPart {
  t: "ipynb";
  path: string;
  /** 0-based, in order */
  part: number;
  data: string;
}

export type GuestRecord = TestRecord | ConformanceRecord | DiffLine | NotebookRecord | NotebookPart;

/** Characters of base64 per `ipynb` record: the lines stay short enough to read in a log. */
export const NOTEBOOK_PART_CHARS = 16 * 1024;

/** The records that carry one executed notebook: its summary, then its file, gzipped, in base64 slices (a serial port under TCG is slow). */
export function notebookRecords(summary: Omit<NotebookRecord, "t" | "parts">, file: string): GuestRecord[] {
  const base64 = gzipSync(Buffer.from(file, "utf8")).toString("base64");
  const parts: NotebookPart[] = [];
  for (let at = 0; at < base64.length; at += NOTEBOOK_PART_CHARS) parts.push({ t: "ipynb", path: summary.path, part: parts.length, data: base64.slice(at, at + NOTEBOOK_PART_CHARS) });
  return [{ t: "notebook", ...summary, parts: parts.length }, ...parts];
}

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

/**
 * The executed notebook's file, put back together from its slices; throws, saying what is wrong,
 * when slices are missing, repeated or out of order, or do not decode.
 */
export function notebookFile(summary: NotebookRecord, parts: readonly NotebookPart[]): string {
  const mine = parts.filter((p) => p.path === summary.path);
  if (mine.length !== summary.parts) throw new Error(`${summary.parts} slice(s) announced, ${mine.length} received`);
  mine.forEach((p, i) => {
    if (p.part !== i) throw new Error(`slice ${i} is missing or out of order (found slice ${p.part} in its place)`);
  });
  try {
    return gunzipSync(Buffer.from(mine.map((p) => p.data).join(""), "base64")).toString("utf8");
  } catch (e) {
    throw new Error(`the slices do not decode: ${e instanceof Error ? e.message : String(e)}`);
  }
}
