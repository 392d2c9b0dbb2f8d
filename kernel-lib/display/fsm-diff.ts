/**
 * fsmDiff(): what changed in the migration state machine between two kernels (or two tables), as
 * a notebook shows it: the changed pairs in a table, and a from × to matrix with each changed
 * pair coloured by the kind of change.
 */
import { MIG_STATE_NAMES, type FsmTable } from "../../hw-emu/uapi/index.js";
import { describeOutcome, diffFsmTables, kernelFsmTable, parseMigrationFlags, type FsmChange, type FsmPairDiff } from "../vfio/fsm-diff.js";
import type { MimeBundle } from "./mime-bundle.js";
import { Plot, plotChart } from "./plot.js";
import { table } from "./table.js";

export interface FsmDiffResult {
  before: FsmTable;
  after: FsmTable;
  pairs: FsmPairDiff[];
  /** the changed pairs, one row each */
  table: MimeBundle;
  /** every (from, to) pair, the changed ones coloured by their change */
  diagram: MimeBundle;
}

const CHANGES: readonly FsmChange[] = ["added", "removed", "path changed", "refusal changed"];

/** Compare two tables, by kernel version ("5.18", "6.2", "fixed") or as FsmTable objects, for a device's flags. */
export function fsmDiff(before: string | FsmTable, after: string | FsmTable, options: { flags?: string } = {}): FsmDiffResult {
  const a = typeof before === "string" ? kernelFsmTable(before) : before;
  const b = typeof after === "string" ? kernelFsmTable(after) : after;
  const flags = options.flags ?? "STOP_COPY,P2P,PRE_COPY";
  const pairs = diffFsmTables(a, b, parseMigrationFlags(flags));
  const states = MIG_STATE_NAMES.filter((s) => s !== "ERROR");
  const caption = `${a.name} → ${b.name}, flags ${flags}: ${pairs.length} pair${pairs.length === 1 ? "" : "s"} changed`;
  const rows = pairs.map((p) => ({ from: p.from, to: p.to, change: p.change, [a.name]: describeOutcome(p.before), [b.name]: describeOutcome(p.after) }));
  const changed = new Map(pairs.map((p) => [`${p.from}>${p.to}`, p.change]));
  const cells = states.flatMap((from) => states.filter((to) => to !== from).map((to) => ({ from, to, change: changed.get(`${from}>${to}`) ?? "unchanged" })));
  const diagram = plotChart(
    {
      title: caption,
      width: 560,
      height: 380,
      marginLeft: 110,
      marginBottom: 90,
      x: { label: "requested state →", domain: states, tickRotate: -35 },
      y: { label: "↑ current state", domain: states },
      color: { legend: true, domain: ["unchanged", ...CHANGES], range: ["#d8dde3", "#1a7f37", "#8250df", "#0969da", "#cf222e"] },
      marks: [Plot.cell(cells, { x: "to", y: "from", fill: "change", inset: 1 })],
    },
    { alt: `${caption}\n${pairs.map((p) => `${p.from} → ${p.to}: ${p.change} (${describeOutcome(p.before)} → ${describeOutcome(p.after)})`).join("\n") || "no pair changed"}` },
  );
  return { before: a, after: b, pairs, table: table(rows, { caption }), diagram };
}
