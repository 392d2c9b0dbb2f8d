/**
 * `fsm diff` and fsmDiff(): the path tables of 5.18 and 6.2 as written down from those kernels'
 * vfio_mig_get_next_state(), what changed between them and with the blocked-arc fix, the
 * emulator's own table equal to the fixed kernel's, and a user's JSON table.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fsmDiff } from "../../kernel-lib/display/fsm-diff.js";
import { diffFsmTables, kernelFsmTable, parseMigrationFlags } from "../../kernel-lib/vfio/fsm-diff.js";
import { FLAG_SETS, pathTo } from "../../hw-emu/uapi/migration-fsm.js";
import { KERNEL_FSM_TABLES, walkTable, type MigStateName } from "../../hw-emu/uapi/index.js";
import { runCli } from "../cli/run-cli.js";

const ALL = parseMigrationFlags("STOP_COPY,P2P,PRE_COPY");
const FIVE: MigStateName[] = ["STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P"];
const PRE = new Set<MigStateName>(["PRE_COPY", "PRE_COPY_P2P"]);
const scratch = mkdtempSync(join(tmpdir(), "vwb-fsm-diff-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the kernels' tables", () => {
  it("5.18 walks RUNNING -> STOP through RUNNING_P2P and RESUMING -> RUNNING through STOP and RUNNING_P2P, as vfio.c's table codes it", () => {
    const t = kernelFsmTable("5.18");
    expect(walkTable(t, ALL, "RUNNING", "STOP")).toEqual({ kind: "path", path: ["RUNNING", "RUNNING_P2P", "STOP"] });
    expect(walkTable(t, ALL, "RESUMING", "RUNNING")).toEqual({ kind: "path", path: ["RESUMING", "STOP", "RUNNING_P2P", "RUNNING"] });
    // without P2P the skip loop steps over RUNNING_P2P
    expect(walkTable(t, parseMigrationFlags("STOP_COPY"), "RUNNING", "STOP")).toEqual({ kind: "path", path: ["RUNNING", "STOP"] });
    expect(walkTable(t, ALL, "RUNNING", "PRE_COPY").kind).toBe("absent");
  });

  it("6.2 spins on a blocked arc only for a device that offers PRE_COPY; without it the target fails the support check first", () => {
    const t = kernelFsmTable("6.2");
    expect(walkTable(t, ALL, "STOP_COPY", "PRE_COPY").kind).toBe("spins");
    expect(walkTable(t, ALL, "STOP_COPY", "PRE_COPY_P2P").kind).toBe("spins");
    expect(walkTable(t, parseMigrationFlags("STOP_COPY,P2P"), "STOP_COPY", "PRE_COPY").kind).toBe("EINVAL");
    expect(walkTable(kernelFsmTable("fixed"), ALL, "STOP_COPY", "PRE_COPY").kind).toBe("EINVAL");
  });

  it("the emulated kernel walks every pair of every flag set as the fixed kernel does", () => {
    const fixed = kernelFsmTable("fixed");
    for (const { name, flags } of FLAG_SETS) {
      for (const from of fixed.states) {
        for (const to of fixed.states) {
          if (from === to) continue;
          const ours = pathTo(flags, from, to);
          const theirs = walkTable(fixed, flags, from, to);
          expect(ours.ok ? { kind: "path", path: ours.path } : "EINVAL", `${name}: ${from} -> ${to}`).toEqual(theirs.kind === "path" ? theirs : theirs.kind);
        }
      }
    }
  });
});

describe("vfio-workbench fsm diff", () => {
  it("--from 5.18 --to 6.2 --flags STOP_COPY,P2P,PRE_COPY prints the 22 pairs PRE_COPY added, and no pair of the five older states", () => {
    const r = runCli(["fsm", "diff", "--from", "5.18", "--to", "6.2", "--flags", "STOP_COPY,P2P,PRE_COPY", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const pairs = JSON.parse(r.stdout) as { from: MigStateName; to: MigStateName; change: string; before: string; after: string }[];
    expect(pairs).toHaveLength(22);
    for (const p of pairs) {
      expect(PRE.has(p.from) || PRE.has(p.to), `${p.from} -> ${p.to}`).toBe(true);
      expect(p.change).toBe("added");
    }
    expect(pairs.filter((p) => FIVE.includes(p.from) && FIVE.includes(p.to))).toEqual([]);
    expect(pairs.find((p) => p.from === "STOP_COPY" && p.to === "PRE_COPY")?.after).toBe("spins (soft lockup)");
    expect(pairs.find((p) => p.from === "RUNNING" && p.to === "PRE_COPY_P2P")?.after).toBe("RUNNING -> RUNNING_P2P -> PRE_COPY_P2P");
    const text = runCli(["fsm", "diff", "--from", "5.18", "--to", "6.2", "--flags", "STOP_COPY,P2P,PRE_COPY"]);
    expect(text.stdout.split("\n")[0]).toBe("5.18 -> 6.2, flags STOP_COPY,P2P,PRE_COPY: 22 pairs changed");
  });

  it("--from 6.2 --to fixed changes exactly the two blocked arcs, from a spin to EINVAL", () => {
    const r = runCli(["fsm", "diff", "--from", "6.2", "--to", "fixed", "--json"]);
    expect(JSON.parse(r.stdout)).toEqual([
      { from: "STOP_COPY", to: "PRE_COPY", change: "refusal changed", before: "spins (soft lockup)", after: "EINVAL" },
      { from: "STOP_COPY", to: "PRE_COPY_P2P", change: "refusal changed", before: "spins (soft lockup)", after: "EINVAL" },
    ]);
  });

  it("compares a user's JSON table, and answers a bad one with one line naming the problem and exit 2", () => {
    const six = KERNEL_FSM_TABLES["6.2"]!;
    const mine = { name: "mine", states: six.states, onError: "EINVAL", next: { ...six.next, RUNNING: { ...six.next.RUNNING, STOP: "STOP" } } };
    const file = join(scratch, "mine.json");
    writeFileSync(file, JSON.stringify(mine));
    const r = runCli(["fsm", "diff", "--from", "fixed", "--to", file, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    // every walk that reaches RUNNING on its way to STOP takes the changed hop
    expect(JSON.parse(r.stdout)).toEqual([
      { from: "RUNNING", to: "STOP", change: "path changed", before: "RUNNING -> RUNNING_P2P -> STOP", after: "RUNNING -> STOP" },
      { from: "PRE_COPY", to: "STOP", change: "path changed", before: "PRE_COPY -> RUNNING -> RUNNING_P2P -> STOP", after: "PRE_COPY -> RUNNING -> STOP" },
    ]);
    const bad = join(scratch, "bad.json");
    writeFileSync(bad, JSON.stringify({ states: ["STOP", "RUNNING"], next: { STOP: { STOP: "STOP", RUNNING: "RUNNING" }, RUNNING: { STOP: "HALTED", RUNNING: "RUNNING" } } }));
    const e = runCli(["fsm", "diff", "--from", "6.2", "--to", bad]);
    expect([e.status, e.stderr.trim()]).toEqual([2, `vfio-workbench: ${bad}: "next".RUNNING.STOP is "HALTED", not a listed state or ERROR`]);
    const missing = runCli(["fsm", "diff", "--from", "4.0", "--to", "6.2"]);
    expect([missing.status, missing.stderr.trim()]).toEqual([2, 'vfio-workbench: no table for kernel "4.0"; kernels: 5.18, 6.2, fixed (or a JSON file)']);
  });
});

describe("fsmDiff()", () => {
  it("gives the changed pairs, a table of them and a matrix figure with a text alternative", () => {
    const d = fsmDiff("6.2", "fixed");
    expect(d.pairs.map((p) => `${p.from}>${p.to}`)).toEqual(["STOP_COPY>PRE_COPY", "STOP_COPY>PRE_COPY_P2P"]);
    expect(String(d.table.data["text/plain"])).toContain("spins (soft lockup)");
    expect(String(d.diagram.data["image/svg+xml"])).toMatch(/^<svg/);
    expect(String(d.diagram.data["text/plain"])).toContain("STOP_COPY → PRE_COPY: refusal changed");
    expect(diffFsmTables(kernelFsmTable("fixed"), kernelFsmTable("fixed"), ALL)).toEqual([]);
  });
});
