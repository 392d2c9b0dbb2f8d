import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fsmDiff, fsmOutcome, kernelFsmTable, loadFsmTable, parseFsmTable, FsmTableError } from "../../kernel-lib/vfio/fsm-diff.js";
import { runCli } from "./run-cli.js";

const fixture = (name: string) => `test/cli/fixtures/fsm/${name}`;
const ALL = 0b111;
/** the diff without its labels, to compare a kernel's built-in table with the hand-written file */
const body = (d: ReturnType<typeof fsmDiff>) => ({ changes: d.changes, arcsAdded: d.arcsAdded, arcsRemoved: d.arcsRemoved });

describe("fsmDiff()", () => {
  it("the built-in kernel tables are the ones written down from vfio_main.c of each version", () => {
    for (const v of ["5.18", "6.2", "7.2"]) {
      const file = loadFsmTable(fixture(`linux-${v}.json`));
      const builtIn = kernelFsmTable(v);
      expect({ v, states: builtIn.states, next: builtIn.next, fix: builtIn.loopStopsAtError }).toEqual({ v, states: file.states, next: file.next, fix: file.loopStopsAtError });
    }
  });

  it("the emulated kernel's table is 7.2's", () => {
    expect(body(fsmDiff("7.2", "current"))).toEqual({ changes: [], arcsAdded: [], arcsRemoved: [] });
  });

  it("5.18 -> 6.2 with every flag: PRE_COPY adds 22 requests and 7 arcs, and the two blocked requests lock up", () => {
    const d = fsmDiff("5.18", "6.2", "STOP_COPY,P2P,PRE_COPY");
    expect(d.changes).toHaveLength(22);
    expect(d.changes.every((c) => c.kind === "added" && (c.from.startsWith("PRE_COPY") || c.to.startsWith("PRE_COPY")))).toBe(true);
    const blocked = d.changes.filter((c) => c.from === "STOP_COPY");
    expect(blocked.map((c) => [c.to, c.after])).toEqual([
      ["PRE_COPY", { kind: "soft lockup", spinsOn: "ERROR" }],
      ["PRE_COPY_P2P", { kind: "soft lockup", spinsOn: "ERROR" }],
    ]);
    expect(d.changes.find((c) => c.from === "RUNNING" && c.to === "PRE_COPY")!.after).toEqual({ kind: "path", states: ["RUNNING", "PRE_COPY"] });
    expect(d.arcsAdded).toHaveLength(7);
    expect(d.arcsRemoved).toEqual([]);
  });

  it("6.2 -> 7.2: the fix changes exactly the blocked requests, from a lockup to EINVAL, on any PRE_COPY device", () => {
    for (const flags of ["STOP_COPY,PRE_COPY", "STOP_COPY,P2P,PRE_COPY"]) {
      const d = fsmDiff("6.2", "7.2", flags);
      expect(d.changes.map((c) => `${c.from}>${c.to}:${c.before!.kind}>${c.after!.kind}`)).toEqual(
        flags.includes("P2P")
          ? ["STOP_COPY>PRE_COPY:soft lockup>EINVAL", "STOP_COPY>PRE_COPY_P2P:soft lockup>EINVAL"]
          : ["STOP_COPY>PRE_COPY:soft lockup>EINVAL"],
      );
    }
    // without PRE_COPY the target check refuses first: nothing to fix
    expect(fsmDiff("6.2", "7.2", "STOP_COPY,P2P").changes).toEqual([]);
  });

  it("the skip loop merges states the flags lack, as in the kernel", () => {
    const t = kernelFsmTable("6.2");
    expect(fsmOutcome(t, 0b001, "RUNNING", "STOP")).toEqual({ kind: "path", states: ["RUNNING", "STOP"] });
    expect(fsmOutcome(t, 0b101, "PRE_COPY", "STOP_COPY")).toEqual({ kind: "path", states: ["PRE_COPY", "STOP_COPY"] });
    expect(fsmOutcome(t, ALL, "STOP", "STOP_COPY")).toEqual({ kind: "path", states: ["STOP", "STOP_COPY"] });
    expect(fsmOutcome(t, 0b011, "RUNNING", "PRE_COPY")).toBeUndefined();
  });

  it("a user's table that changes one entry shows that request and its arcs", () => {
    const t = parseFsmTable({ next: structuredClone(kernelFsmTable("7.2").next), loopStopsAtError: true }, "mine");
    (t.next as Record<string, Record<string, string>>).RUNNING!.STOP = "STOP";
    const d = fsmDiff("7.2", t);
    expect(d.changes.map((c) => `${c.kind} ${c.from}>${c.to}`)).toContain("changed RUNNING>STOP");
    expect(d.arcsAdded).toContainEqual(["RUNNING", "STOP"]);
  });

  it("rejects bad tables naming the problem", () => {
    expect(() => parseFsmTable([], "t")).toThrow(/expected a JSON object/);
    expect(() => parseFsmTable({ next: { NOWHERE: {} } }, "t")).toThrow(/unknown state "NOWHERE"/);
    expect(() => parseFsmTable({ next: { STOP: { STOP: "STOP", RUNNING: "STOP" } } }, "t")).toThrow(/column "RUNNING" that is not a row/);
    expect(() => parseFsmTable({ next: { STOP: {}, RUNNING: { STOP: "STOP", RUNNING: "RUNNING" } } }, "t")).toThrow(/row STOP lacks column STOP/);
    expect(() => kernelFsmTable("4.1")).toThrow(FsmTableError);
  });
});

describe("vfio-workbench fsm diff", () => {
  it("--from 5.18 --to 6.2 prints the changed pairs, the same as the hand-written tables give", () => {
    const r = runCli(["fsm", "diff", "--from", "5.18", "--to", "6.2", "--flags", "STOP_COPY,P2P,PRE_COPY"]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe("fsm diff 5.18 -> 6.2, flags STOP_COPY,P2P,PRE_COPY: 22 requests changed");
    expect(lines).toContain("  added    RUNNING      -> PRE_COPY     (no such request)  =>  RUNNING -> PRE_COPY");
    expect(lines).toContain("  added    STOP_COPY    -> PRE_COPY     (no such request)  =>  soft lockup (skip loop spins on ERROR)");
    const files = runCli(["fsm", "diff", "--from", fixture("linux-5.18.json"), "--to", fixture("linux-6.2.json"), "--flags", "STOP_COPY,P2P,PRE_COPY"]);
    expect(files.status).toBe(0);
    expect(files.stdout.split("\n").slice(1)).toEqual(r.stdout.split("\n").slice(1));
  });

  it("--from 6.2 --to 7.2 shows the blocked-arc fix", () => {
    const r = runCli(["fsm", "diff", "--from", "6.2", "--to", "7.2", "--json"]);
    expect(r.status).toBe(0);
    const d = JSON.parse(r.stdout) as ReturnType<typeof fsmDiff>;
    expect(d.changes.map((c) => [c.from, c.to, c.after])).toEqual([
      ["STOP_COPY", "PRE_COPY", { kind: "EINVAL" }],
      ["STOP_COPY", "PRE_COPY_P2P", { kind: "EINVAL" }],
    ]);
  });

  it("a bad version or table file gets one line naming the problem and a non-zero exit", () => {
    const dir = mkdtempSync(join(tmpdir(), "fsm-diff-"));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ next: { STOP: { STOP: "SLEEP" } } }));
    const notJson = join(dir, "broken.json");
    writeFileSync(notJson, "{");
    const cases: [string[], RegExp][] = [
      [["--from", "4.1", "--to", "6.2"], /no path table for kernel "4\.1"/],
      [["--from", bad, "--to", "6.2"], /STOP -> STOP leads to "SLEEP"/],
      [["--from", notJson, "--to", "6.2"], /broken\.json: not JSON/],
      [["--from", join(dir, "missing.json"), "--to", "6.2"], /missing\.json: cannot read it \(ENOENT\)/],
      [["--from", "5.18", "--to", "6.2", "--flags", "P2P"], /not a legal flag set/],
    ];
    for (const [args, msg] of cases) {
      const r = runCli(["fsm", "diff", ...args]);
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
  });
});
