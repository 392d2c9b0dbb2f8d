import { describe, expect, it } from "vitest";
import { FLAG_SETS, directArcs, nextState, pathTo, supportedStates, type MigState } from "../../hw-emu/uapi/migration-fsm.js";

const ALL = FLAG_SETS.find((f) => f.name === "STOP_COPY,P2P,PRE_COPY")!.flags;
const SC = FLAG_SETS.find((f) => f.name === "STOP_COPY")!.flags;
const SC_PRE = FLAG_SETS.find((f) => f.name === "STOP_COPY,PRE_COPY")!.flags;

function path(flags: number, from: MigState, to: MigState): MigState[] | string {
  const r = pathTo(flags, from, to);
  return r.ok ? r.path : "EINVAL";
}

describe("migration path finder", () => {
  it("takes the kernel's paths with every optional state", () => {
    expect(path(ALL, "STOP", "RUNNING")).toEqual(["STOP", "RUNNING_P2P", "RUNNING"]);
    expect(path(ALL, "STOP", "PRE_COPY")).toEqual(["STOP", "RUNNING_P2P", "RUNNING", "PRE_COPY"]);
    expect(path(ALL, "RUNNING", "STOP_COPY")).toEqual(["RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"]);
    expect(path(ALL, "PRE_COPY", "STOP")).toEqual(["PRE_COPY", "RUNNING", "RUNNING_P2P", "STOP"]);
    expect(path(ALL, "PRE_COPY", "STOP_COPY")).toEqual(["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"]);
    expect(path(ALL, "RESUMING", "PRE_COPY_P2P")).toEqual(["RESUMING", "STOP", "RUNNING_P2P", "PRE_COPY_P2P"]);
    expect(path(ALL, "STOP_COPY", "RUNNING")).toEqual(["STOP_COPY", "STOP", "RUNNING_P2P", "RUNNING"]);
  });

  it("never leaves the saving group and re-enters it within one request (one session per fd)", () => {
    const saving = new Set(["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"]);
    for (const { flags } of FLAG_SETS) {
      for (const a of supportedStates(flags)) {
        for (const b of supportedStates(flags)) {
          const r = pathTo(flags, a, b);
          if (!r.ok) continue;
          const inGroup = r.path.map((st) => saving.has(st));
          const left = inGroup.findIndex((g, i) => i > 0 && inGroup[i - 1] && !g);
          if (left >= 0) expect(inGroup.slice(left)).not.toContain(true);
          const entered = inGroup.findIndex((g, i) => i > 0 && !inGroup[i - 1] && g);
          if (entered >= 0) expect(entered).toBe(r.path.length - 1);
        }
      }
    }
  });

  it("refuses STOP_COPY back into pre-copy instead of looping", () => {
    expect(path(ALL, "STOP_COPY", "PRE_COPY")).toBe("EINVAL");
    expect(path(ALL, "STOP_COPY", "PRE_COPY_P2P")).toBe("EINVAL");
    expect(path(SC_PRE, "STOP_COPY", "PRE_COPY")).toBe("EINVAL");
  });

  it("skips optional states a device lacks", () => {
    expect(path(SC, "RUNNING", "STOP")).toEqual(["RUNNING", "STOP"]);
    expect(path(SC, "RESUMING", "RUNNING")).toEqual(["RESUMING", "STOP", "RUNNING"]);
    expect(path(SC_PRE, "PRE_COPY", "STOP_COPY")).toEqual(["PRE_COPY", "STOP_COPY"]);
    expect(path(SC_PRE, "PRE_COPY", "STOP")).toEqual(["PRE_COPY", "RUNNING", "STOP"]);
    expect(path(SC_PRE, "STOP", "PRE_COPY")).toEqual(["STOP", "RUNNING", "PRE_COPY"]);
  });

  it("refuses ERROR and states the flags do not provide", () => {
    expect(nextState(ALL, "RUNNING", "ERROR").ok).toBe(false);
    expect(nextState(ALL, "ERROR", "RUNNING").ok).toBe(false);
    expect(nextState(SC, "RUNNING", "RUNNING_P2P").ok).toBe(false);
    expect(nextState(SC, "RUNNING", "PRE_COPY").ok).toBe(false);
  });

  it("asks drivers only for the documented direct arcs", () => {
    const key = (arcs: [MigState, MigState][]) => arcs.map(([a, b]) => `${a}>${b}`).sort();
    expect(key(directArcs(SC))).toEqual(["RESUMING>STOP", "RUNNING>STOP", "STOP>RESUMING", "STOP>RUNNING", "STOP>STOP_COPY", "STOP_COPY>STOP"].sort());
    expect(key(directArcs(ALL))).toEqual(
      [
        "STOP>STOP_COPY",
        "STOP_COPY>STOP",
        "STOP>RESUMING",
        "RESUMING>STOP",
        "RUNNING>RUNNING_P2P",
        "RUNNING_P2P>RUNNING",
        "RUNNING_P2P>STOP",
        "STOP>RUNNING_P2P",
        "RUNNING>PRE_COPY",
        "RUNNING_P2P>PRE_COPY_P2P",
        "PRE_COPY>RUNNING",
        "PRE_COPY>PRE_COPY_P2P",
        "PRE_COPY_P2P>PRE_COPY",
        "PRE_COPY_P2P>RUNNING_P2P",
        "PRE_COPY_P2P>STOP_COPY",
      ].sort(),
    );
  });
});
