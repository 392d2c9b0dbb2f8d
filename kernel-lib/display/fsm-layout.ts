/**
 * Geometry of the migration FSM diagram.
 *
 * The eight v2 states sit on a fixed, hand-chosen grid so every diagram of
 * the machine looks the same: the left column is the running side going down
 * to stopped (RUNNING, RUNNING_P2P, STOP, RESUMING), the right column is the
 * saving group (PRE_COPY, PRE_COPY_P2P, STOP_COPY) with ERROR below it. Every
 * direct arc of the kernel's table then joins neighbours, except RUNNING <->
 * STOP and PRE_COPY -> STOP_COPY, which skip a state and bow outwards. Tables
 * with other state names fall back to a circle in table order.
 */

export interface Point {
  x: number;
  y: number;
}

export const NODE_WIDTH = 140;
export const NODE_HEIGHT = 34;
export const CANVAS_WIDTH = 700;
/** top of the node area (below the title) and its height */
export const NODES_TOP = 50;
export const NODES_HEIGHT = 360;

const LEFT = 190;
const RIGHT = 510;
const ROW = (i: number) => NODES_TOP + 40 + i * 90;

const FIXED: Readonly<Record<string, Point>> = {
  RUNNING: { x: LEFT, y: ROW(0) },
  RUNNING_P2P: { x: LEFT, y: ROW(1) },
  STOP: { x: LEFT, y: ROW(2) },
  RESUMING: { x: LEFT, y: ROW(3) },
  PRE_COPY: { x: RIGHT, y: ROW(0) },
  PRE_COPY_P2P: { x: RIGHT, y: ROW(1) },
  STOP_COPY: { x: RIGHT, y: ROW(2) },
  ERROR: { x: RIGHT, y: ROW(3) },
};

/** Positions of the states' centres: the fixed grid when every name is a v2 state, else a circle. */
export function layoutStates(states: readonly string[]): Map<string, Point> {
  const out = new Map<string, Point>();
  if (states.every((s) => s in FIXED)) {
    for (const s of states) out.set(s, FIXED[s]!);
    return out;
  }
  const centre = { x: CANVAS_WIDTH / 2, y: NODES_TOP + NODES_HEIGHT / 2 };
  const radius = NODES_HEIGHT / 2 - NODE_HEIGHT;
  states.forEach((s, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / states.length;
    out.set(s, { x: round(centre.x + radius * 1.6 * Math.cos(a)), y: round(centre.y + radius * Math.sin(a)) });
  });
  return out;
}

export interface ArcGeometry {
  /** SVG path data of the arc's line */
  d: string;
  /** SVG path data of the arrowhead at the target */
  head: string;
  /** where a step number goes */
  label: Point;
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

function fmt(p: Point): string {
  return `${round(p.x)},${round(p.y)}`;
}

function sub(a: Point, b: Point): Point {
  return { x: a.x - b.x, y: a.y - b.y };
}

function add(a: Point, b: Point, k = 1): Point {
  return { x: a.x + b.x * k, y: a.y + b.y * k };
}

function unit(v: Point): Point {
  const l = Math.hypot(v.x, v.y) || 1;
  return { x: v.x / l, y: v.y / l };
}

/** Where a ray from a node's centre in direction `dir` leaves the node's box (with a small gap). */
function boxExit(centre: Point, dir: Point): Point {
  const u = unit(dir);
  const hw = NODE_WIDTH / 2 + 3;
  const hh = NODE_HEIGHT / 2 + 3;
  const t = Math.min(u.x === 0 ? Infinity : hw / Math.abs(u.x), u.y === 0 ? Infinity : hh / Math.abs(u.y));
  return add(centre, u, t);
}

function insideBox(p: Point, centre: Point, margin: number): boolean {
  return Math.abs(p.x - centre.x) <= NODE_WIDTH / 2 + margin && Math.abs(p.y - centre.y) <= NODE_HEIGHT / 2 + margin;
}

/** Whether the straight segment a-b passes through any of the other boxes. */
function blocked(a: Point, b: Point, others: readonly Point[]): boolean {
  for (let i = 1; i < 40; i++) {
    const p = add(a, sub(b, a), i / 40);
    if (others.some((o) => insideBox(p, o, 6))) return true;
  }
  return false;
}

function arrowHead(tip: Point, dir: Point): string {
  const u = unit(dir);
  const n = { x: -u.y, y: u.x };
  const back = add(tip, u, -10);
  return `M${fmt(tip)}L${fmt(add(back, n, 4.5))}L${fmt(add(back, n, -4.5))}Z`;
}

/**
 * Geometry of the arc from `a` to `b`. `twoWay` says the reverse arc exists
 * too: straight pairs then run side by side, bowed pairs at two distances.
 * `outer` picks the farther of the two bows for one direction of such a pair.
 */
export function arcGeometry(a: Point, b: Point, others: readonly Point[], centre: Point, twoWay: boolean, outer: boolean): ArcGeometry {
  const along = unit(sub(b, a));
  if (!blocked(a, b, others)) {
    // each direction keeps to its own right-hand side
    const side = twoWay ? { x: -along.y * 6, y: along.x * 6 } : { x: 0, y: 0 };
    const start = add(boxExit(a, along), side);
    const end = add(boxExit(b, { x: -along.x, y: -along.y }), side);
    const mid = add(start, sub(end, start), 0.5);
    const sideUnit = twoWay ? unit(side) : { x: -along.y, y: along.x };
    return { d: `M${fmt(start)}L${fmt(end)}`, head: arrowHead(end, along), label: add(mid, sideUnit, 12) };
  }
  const mid = add(a, sub(b, a), 0.5);
  let normal = { x: -along.y, y: along.x };
  const away = sub(mid, centre);
  if (normal.x * away.x + normal.y * away.y < 0) normal = { x: -normal.x, y: -normal.y };
  const bow = outer ? 230 : 180;
  const control = add(mid, normal, bow);
  const start = boxExit(a, sub(control, a));
  const end = boxExit(b, sub(control, b));
  const apex = { x: 0.25 * start.x + 0.5 * control.x + 0.25 * end.x, y: 0.25 * start.y + 0.5 * control.y + 0.25 * end.y };
  return { d: `M${fmt(start)}Q${fmt(control)} ${fmt(end)}`, head: arrowHead(end, sub(end, control)), label: add(apex, normal, 11) };
}
