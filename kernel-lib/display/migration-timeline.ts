/**
 * A migration as a timeline: its phases as a Gantt chart (one row per device,
 * plus one for phases of the whole migration) and, below, the bytes sent and
 * pages found dirty in each pre-copy round. The headline numbers (downtime,
 * peer-to-peer writes lost, interrupts held over the downtime) are the subtitle.
 *
 * Each phase the orchestrator (kernel-lib/vmm) reports has a colour of its own,
 * fixed so that phases that follow each other look different and the same phase
 * looks the same in every chart; other names take the palette's unused colours.
 */
import { binaryUnitFor, formatBytes, formatNs } from "./format.js";
import type { MimeBundle } from "./mime-bundle.js";
import { tableText } from "./table.js";
import { PALETTE, paletteColor } from "./theme.js";
import type { MigrationTimeline, MigrationTimelineOptions } from "./types.js";
import { vegaLiteChart } from "./vega-lite.js";

const WHOLE = "migration";

/** Palette index of each phase the orchestrator reports. */
const PHASE_COLOUR: Readonly<Record<string, number>> = {
  setup: 11,
  "pre-copy": 0,
  quiesce: 1,
  stop: 4,
  "stop-copy": 3,
  resume: 5,
  config: 8,
  "irq-restore": 7,
  start: 2,
  run: 10,
  cleanup: 6,
  abort: 9,
};

/** A colour for each phase name: the fixed one, or the next palette colour no other phase here uses. */
export function phaseColours(names: readonly string[]): string[] {
  const taken = new Set(names.map((n) => PHASE_COLOUR[n]).filter((i): i is number => i !== undefined));
  const free = PALETTE.map((_, i) => i).filter((i) => !taken.has(i));
  let next = 0;
  return names.map((n) => {
    const fixed = PHASE_COLOUR[n];
    if (fixed !== undefined) return PALETTE[fixed]!;
    // more names than colours: only then do colours repeat
    return free.length > 0 ? PALETTE[free[next++ % free.length]!]! : paletteColor(next++);
  });
}

/** A time unit that keeps the axis numbers short for a span of `ns`. */
function timeUnit(ns: number): { name: string; size: number } {
  if (ns >= 10_000_000_000) return { name: "s", size: 1e9 };
  if (ns >= 10_000_000) return { name: "ms", size: 1e6 };
  if (ns >= 10_000) return { name: "µs", size: 1e3 };
  return { name: "ns", size: 1 };
}

function checkSpan(what: string, startNs: number, endNs: number): void {
  if (!Number.isFinite(startNs) || !Number.isFinite(endNs) || endNs < startNs) {
    throw new Error(`${what}: needs finite times with endNs >= startNs, got ${startNs}..${endNs}`);
  }
}

function summary(t: MigrationTimeline): string {
  const lost = t.lostInterrupts === undefined ? "" : ` · interrupts lost ${t.lostInterrupts}`;
  return `downtime ${formatNs(t.downtimeNs)} · peer-to-peer writes lost ${t.lostP2PWrites} · interrupts delivered after resume ${t.lateInterrupts}${lost}`;
}

function plainText(t: MigrationTimeline, title: string): string {
  const parts = [`${title}: ${summary(t)}`];
  if (t.phases.length) {
    parts.push(
      tableText(
        t.phases.map((p) => ({ phase: p.name, device: p.device ?? WHOLE, start: formatNs(p.startNs), end: formatNs(p.endNs), duration: formatNs(p.endNs - p.startNs) })),
        { columns: ["phase", "device", "start", "end", { key: "duration", align: "right" }] },
      ),
    );
  }
  if (t.iterations.length) {
    parts.push(
      tableText(
        t.iterations.map((i) => ({ round: i.index, duration: formatNs(i.endNs - i.startNs), sent: formatBytes(i.bytesSent), dirty: i.dirtyPages })),
        { columns: ["round", { key: "duration", align: "right" }, { key: "sent", label: "bytes sent", align: "right" }, { key: "dirty", label: "dirty pages" }] },
      ),
    );
  }
  return parts.join("\n\n");
}

/**
 * Draw what the migration orchestrator reports about one migration.
 *
 * @example await migrationTimeline(result.timeline)
 */
export async function migrationTimeline(t: MigrationTimeline, options: MigrationTimelineOptions = {}): Promise<MimeBundle> {
  if (t.phases.length === 0 && t.iterations.length === 0) throw new Error("a migration timeline needs at least one phase or iteration");
  t.phases.forEach((p) => checkSpan(`phase ${p.name}`, p.startNs, p.endNs));
  t.iterations.forEach((i) => checkSpan(`iteration ${i.index}`, i.startNs, i.endNs));
  const title = options.title ?? "Migration timeline";
  const width = options.width ?? 560;
  const views: object[] = [];

  if (t.phases.length) {
    const first = t.phases.reduce((a, p) => (p.startNs < a.startNs ? p : a));
    const t0 = first.startNs;
    const t1 = Math.max(...t.phases.map((p) => p.endNs));
    const unit = timeUnit(t1 - t0);
    const lanes = [...new Set(t.phases.map((p) => p.device ?? WHOLE))];
    const names = [...new Set(t.phases.map((p) => p.name))];
    views.push({
      width,
      height: { step: 24 },
      data: {
        values: t.phases.map((p) => ({
          phase: p.name,
          lane: p.device ?? WHOLE,
          start: (p.startNs - t0) / unit.size,
          end: (p.endNs - t0) / unit.size,
          duration: formatNs(p.endNs - p.startNs),
        })),
      },
      mark: { type: "bar", cornerRadius: 2 },
      encoding: {
        x: { field: "start", type: "quantitative", scale: { domain: [0, Math.max((t1 - t0) / unit.size, 1e-9)], nice: false }, axis: { title: `simulated time since ${first.name} began (${unit.name})` } },
        x2: { field: "end" },
        y: { field: "lane", type: "nominal", sort: lanes, axis: { title: null } },
        color: { field: "phase", type: "nominal", sort: names, scale: { domain: names, range: phaseColours(names) }, legend: { title: "phase" } },
        tooltip: [
          { field: "phase", type: "nominal" },
          { field: "lane", type: "nominal", title: "device" },
          { field: "duration", type: "nominal" },
        ],
      },
    });
  }

  if (t.iterations.length) {
    const unit = binaryUnitFor(Math.max(1, ...t.iterations.map((i) => i.bytesSent)));
    const values = t.iterations.map((i) => ({
      round: i.index,
      sent: i.bytesSent / unit.size,
      dirty: i.dirtyPages,
      duration: formatNs(i.endNs - i.startNs),
      bytes: formatBytes(i.bytesSent),
    }));
    const round = { field: "round", type: "ordinal", axis: { title: "copy round (number)", labelAngle: 0 } };
    const tooltip = [
      { field: "round", type: "ordinal" },
      { field: "bytes", type: "nominal", title: "sent" },
      { field: "dirty", type: "quantitative", title: "dirty pages" },
      { field: "duration", type: "nominal" },
    ];
    const half = Math.floor((width - 60) / 2);
    views.push({
      data: { values },
      hconcat: [
        { width: half, height: 140, mark: { type: "bar", color: PALETTE[0] }, encoding: { x: round, y: { field: "sent", type: "quantitative", axis: { title: `bytes sent in the round (${unit.name})` } }, tooltip } },
        { width: half, height: 140, mark: { type: "bar", color: PALETTE[3] }, encoding: { x: round, y: { field: "dirty", type: "quantitative", axis: { title: "pages sent as dirty" } }, tooltip } },
      ],
    });
  }

  const spec = { title: { text: title, subtitle: summary(t) }, vconcat: views, spacing: 24 };
  return vegaLiteChart(spec, { alt: plainText(t, title), ...(options.html === undefined ? {} : { html: options.html }) });
}
