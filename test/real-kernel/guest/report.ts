/**
 * The guest's reporter: TAP-like lines on the console for people reading the
 * log, and one JSON record per result on the results channel for the host.
 * Tests are plain functions; a throw is a failure. There is no test framework
 * in the guest, on purpose: node and the package are all it has.
 */
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { formatRecord, formatSentinel, type GuestRecord, type GuestSummary, type SectionCount, type SectionName } from "../shared/protocol.js";

/** The results channel: the second serial port, opened alone so that closing it waits until every byte is sent. */
export class Channel {
  private readonly fd: number;

  constructor(path: string) {
    this.fd = openSync(path, constants.O_WRONLY | constants.O_NOCTTY);
  }

  send(line: string): void {
    const bytes = Buffer.from(line + "\n");
    for (let off = 0; off < bytes.length; ) off += writeSync(this.fd, bytes, off);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export class Reporter {
  readonly counts: Record<SectionName, SectionCount> = {
    edu: { passed: 0, failed: 0, skipped: 0 },
    conformance: { passed: 0, failed: 0, skipped: 0 },
    differential: { passed: 0, failed: 0, skipped: 0 },
    notebooks: { passed: 0, failed: 0, skipped: 0 },
  };
  private n = 0;

  constructor(private readonly channel: Channel) {}

  record(r: GuestRecord): void {
    this.channel.send(formatRecord(r));
  }

  /** Report one result (also used for results computed elsewhere, such as conformance checks). */
  result(section: SectionName, name: string, ok: boolean, detail = ""): void {
    this.n++;
    this.counts[section][ok ? "passed" : "failed"]++;
    const oneLine = detail.replace(/\s+/g, " ").trim();
    console.log(`${ok ? "ok" : "not ok"} ${this.n} - ${section}: ${name}${oneLine ? ` # ${oneLine}` : ""}`);
    this.record({ t: "test", section, name, ok, detail: oneLine });
  }

  /** A check that does not apply here: TAP's SKIP, counted apart from passes. */
  skip(section: SectionName, name: string, reason: string): void {
    this.n++;
    this.counts[section].skipped++;
    console.log(`ok ${this.n} - ${section}: ${name} # SKIP ${reason.replace(/\s+/g, " ").trim()}`);
  }

  /** Run one test; what it returns is printed as a note. */
  test(section: SectionName, name: string, fn: () => string | void): boolean {
    try {
      const note = fn();
      this.result(section, name, true, note ?? "");
      return true;
    } catch (e) {
      this.result(section, name, false, e instanceof Error ? e.message : String(e));
      return false;
    }
  }

  sectionSummary(section: SectionName): void {
    const c = this.counts[section];
    console.log(`# ${section}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
  }

  finish(kernel: string): GuestSummary {
    const summary: GuestSummary = { sections: this.counts, kernel };
    const line = formatSentinel(summary);
    console.log(line);
    this.channel.send(line);
    this.channel.close();
    return summary;
  }
}

/** A failed expectation inside a guest test. */
export function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

export function equal<T>(actual: T, expected: T, what: string): void {
  if (actual !== expected) throw new Error(`${what}: expected ${String(expected)}, got ${String(actual)}`);
}

export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** Sleep without an event loop (the tests are synchronous, as system calls are). */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
