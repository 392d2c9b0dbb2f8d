/**
 * The VFIO v2 migration state machine as a diagram.
 *
 * Draws the states and direct arcs from a table the caller supplies (pass the
 * emulated kernel's own tables), for one set of device flags: arcs the flags
 * keep are solid, arcs the flags remove are dashed grey, states left without
 * any arc are drawn as dashed outlines, and an optional path (e.g. the path
 * finder's answer for a requested transition) is drawn in the accent colour
 * with numbered steps.
 */
import { escapeMarkup } from "./escape.js";
import { arcGeometry, CANVAS_WIDTH, layoutStates, NODE_HEIGHT, NODE_WIDTH, NODES_HEIGHT, NODES_TOP, type Point } from "./fsm-layout.js";
import type { MimeBundle } from "./mime-bundle.js";
import { svgBundle } from "./svg-bundle.js";
import { finishSvg } from "./svg-ids.js";
import { ACCENT, FONT_SANS, INK, ON_FILL, PALETTE } from "./theme.js";
import type { FsmArc, FsmDescription, FsmDiagramOptions, FsmFlag } from "./types.js";

const ARC_COLOR = PALETTE[0]!;

type ArcStatus = "available" | "removed" | "path";

interface ClassifiedArc {
  arc: FsmArc;
  status: ArcStatus;
  /** why the flags remove it */
  reason?: string;
  /** 1-based step numbers of the path that use it */
  steps: number[];
}

function flagSet(flags: FsmDiagramOptions["flags"]): (f: FsmFlag) => boolean {
  return (f) => (f === "P2P" ? flags.p2p : flags.preCopy);
}

function removalReason(arc: FsmArc, has: (f: FsmFlag) => boolean): string | undefined {
  const missing = arc.requires.filter((f) => !has(f));
  if (missing.length > 0) return `needs ${missing.join(" + ")}`;
  const set = (arc.unless ?? []).filter(has);
  if (set.length > 0) return `replaced when ${set.join(" + ")} is set`;
  return undefined;
}

function arcKey(from: string, to: string): string {
  return `${from}\u0000${to}`;
}

function flagsTitle(flags: FsmDiagramOptions["flags"]): string {
  return ["STOP_COPY", ...(flags.p2p ? ["P2P"] : []), ...(flags.preCopy ? ["PRE_COPY"] : [])].join(" + ");
}

interface Model {
  states: readonly string[];
  arcs: ClassifiedArc[];
  onPath: Set<string>;
  unavailable: Set<string>;
  /** states the table gives no arcs at all (ERROR: entered only by a failed arc) */
  isolated: Set<string>;
  path: readonly string[];
}

function classify(fsm: FsmDescription, options: FsmDiagramOptions): Model {
  const known = new Set<string>();
  for (const s of fsm.states) {
    if (known.has(s)) throw new Error(`state ${s} is listed twice`);
    known.add(s);
  }
  const has = flagSet(options.flags);
  const byKey = new Map<string, ClassifiedArc>();
  for (const arc of fsm.arcs) {
    for (const end of [arc.from, arc.to]) if (!known.has(end)) throw new Error(`arc ${arc.from} -> ${arc.to} names unknown state ${end}`);
    if (arc.from === arc.to) throw new Error(`arc ${arc.from} -> ${arc.to} is a self-loop; the FSM has none`);
    const key = arcKey(arc.from, arc.to);
    if (byKey.has(key)) throw new Error(`arc ${arc.from} -> ${arc.to} is listed twice`);
    const reason = removalReason(arc, has);
    byKey.set(key, { arc, status: reason ? "removed" : "available", ...(reason ? { reason } : {}), steps: [] });
  }
  const path = options.path ?? [];
  for (const s of path) if (!known.has(s)) throw new Error(`path names unknown state ${s}`);
  for (let i = 0; i + 1 < path.length; i++) {
    const c = byKey.get(arcKey(path[i]!, path[i + 1]!));
    if (!c) throw new Error(`path step ${i + 1} (${path[i]} -> ${path[i + 1]}) is not an arc of the table`);
    if (c.status === "removed") throw new Error(`path step ${i + 1} (${path[i]} -> ${path[i + 1]}) is removed by the flags (${c.reason})`);
    c.status = "path";
    c.steps.push(i + 1);
  }
  // a state is unavailable when the table gives it arcs and the flags remove every one
  const unavailable = new Set<string>();
  const isolated = new Set<string>();
  for (const s of fsm.states) {
    const touching = [...byKey.values()].filter((c) => c.arc.from === s || c.arc.to === s);
    if (touching.length === 0) isolated.add(s);
    else if (touching.every((c) => c.status === "removed")) unavailable.add(s);
  }
  return { states: fsm.states, arcs: [...byKey.values()], onPath: new Set(path), unavailable, isolated, path };
}

function arcTitle(c: ClassifiedArc): string {
  const base = `${c.arc.from} → ${c.arc.to}`;
  if (c.status === "removed") return `${base}: removed (${c.reason})`;
  if (c.status === "path") return `${base}: path step ${c.steps.join(", ")}`;
  return `${base}: available`;
}

function drawArcs(model: Model, pos: Map<string, Point>): { lines: string[]; labels: string[] } {
  const points = [...pos.values()];
  const centre = {
    x: points.reduce((s, p) => s + p.x, 0) / points.length,
    y: points.reduce((s, p) => s + p.y, 0) / points.length,
  };
  const present = new Set(model.arcs.map((c) => arcKey(c.arc.from, c.arc.to)));
  const order: Record<ArcStatus, number> = { removed: 0, available: 1, path: 2 };
  const sorted = [...model.arcs].sort((x, y) => order[x.status] - order[y.status]);
  const lines: string[] = [];
  const labels: string[] = [];
  for (const c of sorted) {
    const a = pos.get(c.arc.from)!;
    const b = pos.get(c.arc.to)!;
    const others = [...pos.entries()].filter(([s]) => s !== c.arc.from && s !== c.arc.to).map(([, p]) => p);
    const twoWay = present.has(arcKey(c.arc.to, c.arc.from));
    const g = arcGeometry(a, b, others, centre, twoWay, c.arc.from > c.arc.to);
    const color = c.status === "removed" ? INK : c.status === "path" ? ACCENT : ARC_COLOR;
    const width = c.status === "path" ? 3.2 : c.status === "removed" ? 1.2 : 1.6;
    const dash = c.status === "removed" ? ' stroke-dasharray="5 4"' : "";
    const steps = c.steps.length ? ` data-step="${c.steps.join(" ")}"` : "";
    lines.push(
      `<g class="arc ${c.status}" data-from="${escapeMarkup(c.arc.from)}" data-to="${escapeMarkup(c.arc.to)}"${steps}>` +
        `<title>${escapeMarkup(arcTitle(c))}</title>` +
        `<path d="${g.d}" fill="none" stroke="${color}" stroke-width="${width}"${dash}/>` +
        `<path d="${g.head}" fill="${color}"/></g>`,
    );
    if (c.steps.length) {
      labels.push(
        `<text class="step" x="${Math.round(g.label.x)}" y="${Math.round(g.label.y) + 4}" text-anchor="middle" ` +
          `font-size="12" font-weight="bold" fill="${ACCENT}">${c.steps.join(",")}</text>`,
      );
    }
  }
  return { lines, labels };
}

function drawStates(model: Model, pos: Map<string, Point>): string[] {
  return model.states.map((s) => {
    const p = pos.get(s)!;
    const x = p.x - NODE_WIDTH / 2;
    const y = p.y - NODE_HEIGHT / 2;
    const kind = model.onPath.has(s) ? "path" : model.unavailable.has(s) ? "unavailable" : model.isolated.has(s) ? "isolated" : "available";
    const box =
      kind === "unavailable"
        ? `fill="none" stroke="${INK}" stroke-width="1.2" stroke-dasharray="5 4"`
        : kind === "isolated"
          ? `fill="none" stroke="${INK}" stroke-width="1.2"`
          : `fill="${kind === "path" ? ACCENT : ARC_COLOR}"`;
    const ink = kind === "unavailable" || kind === "isolated" ? INK : ON_FILL;
    const note = {
      unavailable: "removed by the flags",
      isolated: "no direct arcs in the table",
      path: "on the path",
      available: "available",
    }[kind];
    return (
      `<g class="state ${kind}" data-state="${escapeMarkup(s)}"><title>${escapeMarkup(`${s}: ${note}`)}</title>` +
      `<rect x="${x}" y="${y}" width="${NODE_WIDTH}" height="${NODE_HEIGHT}" rx="8" ${box}/>` +
      `<text x="${p.x}" y="${p.y + 4}" text-anchor="middle" font-size="12" font-weight="bold" fill="${ink}">${escapeMarkup(s)}</text></g>`
    );
  });
}

function drawLegend(top: number): { svg: string; height: number } {
  const rows: [string, string][] = [
    [`<path d="M0,0H34" stroke="${ARC_COLOR}" stroke-width="1.6"/>`, "direct arc the driver implements with these flags"],
    [`<path d="M0,0H34" stroke="${ACCENT}" stroke-width="3.2"/>`, "path, numbered by step"],
    [`<path d="M0,0H34" stroke="${INK}" stroke-width="1.2" stroke-dasharray="5 4"/>`, "arc removed by these flags"],
    [
      `<rect x="4" y="-7" width="26" height="14" rx="4" fill="none" stroke="${INK}" stroke-dasharray="4 3"/>`,
      "state these flags remove",
    ],
    [`<rect x="4" y="-7" width="26" height="14" rx="4" fill="none" stroke="${INK}"/>`, "state with no direct arcs"],
  ];
  const parts = rows.map(
    ([sample, label], i) =>
      `<g transform="translate(40,${top + i * 20})">${sample}<text x="46" y="4" font-size="11" fill="${INK}">${escapeMarkup(label)}</text></g>`,
  );
  return { svg: `<g class="legend">${parts.join("")}</g>`, height: rows.length * 20 };
}

function plainText(model: Model, title: string): string {
  const lines = [title];
  if (model.path.length) lines.push(`path: ${model.path.join(" → ")}`);
  lines.push("arcs (n = path step, + available, - removed by the flags):");
  const width = Math.max(...model.arcs.map((c) => `${c.arc.from} → ${c.arc.to}`.length), 0);
  for (const c of model.arcs) {
    const mark = c.status === "path" ? c.steps.join(",") : c.status === "available" ? "+" : "-";
    const name = `${c.arc.from} → ${c.arc.to}`.padEnd(width);
    lines.push(`  ${mark.padStart(2)} ${name}${c.reason ? `  (${c.reason})` : ""}`.trimEnd());
  }
  if (model.unavailable.size) lines.push(`states removed by the flags: ${[...model.unavailable].join(", ")}`);
  if (model.isolated.size) lines.push(`states with no direct arcs: ${[...model.isolated].join(", ")}`);
  return lines.join("\n");
}

/**
 * Draw the migration FSM for a set of device flags, optionally highlighting a
 * path. Pass the emulated kernel's own state list and direct-arc table.
 *
 * @example fsmDiagram(kernelFsmTables, { flags: { p2p: true, preCopy: false }, path: ["RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"] })
 */
export function fsmDiagram(fsm: FsmDescription, options: FsmDiagramOptions): MimeBundle {
  if (fsm.states.length === 0) throw new Error("an FSM diagram needs at least one state");
  const model = classify(fsm, options);
  const title = options.title ?? `VFIO migration states, flags ${flagsTitle(options.flags)}`;
  const pos = layoutStates(fsm.states);
  const { lines, labels } = drawArcs(model, pos);
  const legendTop = NODES_TOP + NODES_HEIGHT + 20;
  const legend = drawLegend(legendTop);
  const height = legendTop + legend.height + 6;
  const svg =
    `<svg width="${CANVAS_WIDTH}" height="${height}" viewBox="0 0 ${CANVAS_WIDTH} ${height}" font-family="${escapeMarkup(FONT_SANS)}" ` +
    `role="img" aria-label="${escapeMarkup(title)}">` +
    `<text x="20" y="28" font-size="15" font-weight="bold" fill="${INK}">${escapeMarkup(title)}</text>` +
    lines.join("") +
    drawStates(model, pos).join("") +
    labels.join("") +
    legend.svg +
    `</svg>`;
  return svgBundle(finishSvg(svg, "fsm"), plainText(model, title));
}
