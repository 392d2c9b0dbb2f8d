import { describe, expect, it } from "vitest";
import { parseHTML } from "linkedom";
import { fsmDiagram, fsmFromFlagSets, type FsmDescription } from "../../kernel-lib/display/index.js";
import { directArcs, FLAG_SETS, supportedStates } from "../../hw-emu/uapi/migration-fsm.js";
import { VFIO_MIGRATION } from "../../hw-emu/uapi/index.js";
import { V2_FSM } from "./fsm-table.js";

function parse(svg: string) {
  return parseHTML(`<html><body>${svg}</body></html>`).document;
}

const arcKey = (from: string, to: string) => `${from}->${to}`;

function arcsByStatus(svg: string): Record<string, string[]> {
  const out: Record<string, string[]> = { available: [], removed: [], path: [] };
  for (const g of parse(svg).querySelectorAll("g.arc")) {
    const status = g.getAttribute("class")!.split(" ")[1]!;
    out[status]!.push(arcKey(g.getAttribute("data-from")!, g.getAttribute("data-to")!));
  }
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

describe("fsmDiagram", () => {
  it("returns SVG with xmlns, HTML and a text listing", () => {
    const b = fsmDiagram(V2_FSM, { flags: { p2p: true, preCopy: true } });
    expect(Object.keys(b.data).sort()).toEqual(["image/svg+xml", "text/html", "text/plain"]);
    expect(b.data["image/svg+xml"]).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const text = b.data["text/plain"] as string;
    expect(text.split("\n")[0]).toBe("VFIO migration states, flags STOP_COPY + P2P + PRE_COPY");
    expect(text).toContain("states with no direct arcs: ERROR");
  });

  it("draws every state of the table once", () => {
    const doc = parse(fsmDiagram(V2_FSM, { flags: { p2p: false, preCopy: false } }).data["image/svg+xml"] as string);
    const states = [...doc.querySelectorAll("g.state")].map((g) => g.getAttribute("data-state"));
    expect(states.sort()).toEqual([...V2_FSM.states].sort());
  });

  it("marks the highlighted path with numbered steps", () => {
    const path = ["PRE_COPY", "RUNNING", "RUNNING_P2P", "STOP", "RESUMING"];
    const b = fsmDiagram(V2_FSM, { flags: { p2p: true, preCopy: true }, path });
    const doc = parse(b.data["image/svg+xml"] as string);
    const steps = [...doc.querySelectorAll("g.arc.path")].map((g) => [Number(g.getAttribute("data-step")), g.getAttribute("data-from"), g.getAttribute("data-to")]);
    expect(steps.sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([
      [1, "PRE_COPY", "RUNNING"],
      [2, "RUNNING", "RUNNING_P2P"],
      [3, "RUNNING_P2P", "STOP"],
      [4, "STOP", "RESUMING"],
    ]);
    const onPath = [...doc.querySelectorAll("g.state.path")].map((g) => g.getAttribute("data-state")).sort();
    expect(onPath).toEqual([...path].sort());
    expect([...doc.querySelectorAll("text.step")].map((t) => t.textContent).sort()).toEqual(["1", "2", "3", "4"]);
    expect(b.data["text/plain"]).toContain("path: PRE_COPY → RUNNING → RUNNING_P2P → STOP → RESUMING");
  });

  it("shows the arcs a flag set removes as dashed, and the states left without arcs", () => {
    const svg = fsmDiagram(V2_FSM, { flags: { p2p: false, preCopy: false } }).data["image/svg+xml"] as string;
    const byStatus = arcsByStatus(svg);
    expect(byStatus.available).toEqual(
      ["RESUMING->STOP", "RUNNING->STOP", "STOP->RESUMING", "STOP->RUNNING", "STOP->STOP_COPY", "STOP_COPY->STOP"].sort(),
    );
    expect(byStatus.removed).toHaveLength(V2_FSM.arcs.length - 6);
    const doc = parse(svg);
    for (const g of doc.querySelectorAll("g.arc.removed")) expect(g.querySelector("path")!.getAttribute("stroke-dasharray")).toBe("5 4");
    for (const g of doc.querySelectorAll("g.arc.available")) expect(g.querySelector("path")!.hasAttribute("stroke-dasharray")).toBe(false);
    const unavailable = [...doc.querySelectorAll("g.state.unavailable")].map((g) => g.getAttribute("data-state")).sort();
    expect(unavailable).toEqual(["PRE_COPY", "PRE_COPY_P2P", "RUNNING_P2P"]);
  });

  it("removes arcs that a set flag replaces (RUNNING -> STOP is direct only without P2P)", () => {
    const byStatus = arcsByStatus(fsmDiagram(V2_FSM, { flags: { p2p: true, preCopy: false } }).data["image/svg+xml"] as string);
    expect(byStatus.removed).toContain("RUNNING->STOP");
    expect(byStatus.available).toContain("RUNNING_P2P->STOP");
    const text = fsmDiagram(V2_FSM, { flags: { p2p: true, preCopy: false } }).data["text/plain"] as string;
    expect(text).toMatch(/- RUNNING → STOP +\(replaced when P2P is set\)/);
    expect(text).toMatch(/- RUNNING → PRE_COPY +\(needs PRE_COPY\)/);
  });

  it("refuses a path that is not made of arcs the flags keep", () => {
    expect(() => fsmDiagram(V2_FSM, { flags: { p2p: true, preCopy: true }, path: ["RUNNING", "STOP"] })).toThrow(/removed by the flags \(replaced when P2P is set\)/);
    expect(() => fsmDiagram(V2_FSM, { flags: { p2p: true, preCopy: true }, path: ["STOP_COPY", "PRE_COPY"] })).toThrow(/not an arc of the table/);
    expect(() => fsmDiagram(V2_FSM, { flags: { p2p: true, preCopy: true }, path: ["RUNNING", "FLYING"] })).toThrow(/unknown state FLYING/);
  });

  it("refuses tables that name unknown states or repeat arcs", () => {
    expect(() => fsmDiagram({ states: ["A"], arcs: [{ from: "A", to: "B", requires: [] }] }, { flags: { p2p: true, preCopy: true } })).toThrow(/unknown state B/);
    const twice: FsmDescription = { states: ["A", "B"], arcs: [{ from: "A", to: "B", requires: [] }, { from: "A", to: "B", requires: [] }] };
    expect(() => fsmDiagram(twice, { flags: { p2p: true, preCopy: true } })).toThrow(/listed twice/);
  });

  it("lays out a table with other state names on a circle", () => {
    const small: FsmDescription = {
      states: ["IDLE", "BUSY", "DONE"],
      arcs: [
        { from: "IDLE", to: "BUSY", requires: [] },
        { from: "BUSY", to: "DONE", requires: ["P2P"] },
        { from: "DONE", to: "IDLE", requires: [] },
      ],
    };
    const svg = fsmDiagram(small, { flags: { p2p: false, preCopy: false }, path: ["DONE", "IDLE", "BUSY"] }).data["image/svg+xml"] as string;
    expect(arcsByStatus(svg)).toEqual({ available: [], removed: ["BUSY->DONE"], path: ["DONE->IDLE", "IDLE->BUSY"] });
    expect(svg).not.toContain("NaN");
  });

  it("renders identically twice", () => {
    const opts = { flags: { p2p: true, preCopy: false }, path: ["RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"] };
    expect(fsmDiagram(V2_FSM, opts).data).toEqual(fsmDiagram(V2_FSM, opts).data);
  });
});

describe("fsmFromFlagSets", () => {
  const bits = VFIO_MIGRATION.bits;
  const fromKernel = () =>
    fsmFromFlagSets(
      ["ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P"],
      FLAG_SETS.map((s) => ({ flags: { p2p: (s.flags & bits.P2P) !== 0, preCopy: (s.flags & bits.PRE_COPY) !== 0 }, arcs: directArcs(s.flags) })),
    );

  it("derives from the emulated kernel's path finder the same arcs and conditions as the reference table", () => {
    const norm = (d: FsmDescription) =>
      d.arcs.map((a) => `${a.from}->${a.to} requires ${[...a.requires].sort().join("+")} unless ${[...(a.unless ?? [])].sort().join("+")}`).sort();
    expect(norm(fromKernel())).toEqual(norm(V2_FSM));
  });

  it("gives, for each flag set, exactly the kernel's direct arcs and supported states", () => {
    const fsm = fromKernel();
    for (const s of FLAG_SETS) {
      const flags = { p2p: (s.flags & bits.P2P) !== 0, preCopy: (s.flags & bits.PRE_COPY) !== 0 };
      const svg = fsmDiagram(fsm, { flags }).data["image/svg+xml"] as string;
      expect(arcsByStatus(svg).available).toEqual(directArcs(s.flags).map(([a, b]) => arcKey(a, b)).sort());
      const doc = parse(svg);
      const drawnAsSupported = [...doc.querySelectorAll("g.state.available")].map((g) => g.getAttribute("data-state")).sort();
      expect(drawnAsSupported).toEqual(supportedStates(s.flags).sort());
    }
  });

  it("refuses an incomplete set of flag sets", () => {
    expect(() => fsmFromFlagSets(["A"], [{ flags: { p2p: false, preCopy: false }, arcs: [] }])).toThrow(/four flag sets/);
  });
});
