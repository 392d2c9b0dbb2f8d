/**
 * Dirty-page heat maps: IOVA along x, one row per dirty-bitmap sync, colour
 * for how many pages of each IOVA bucket the sync found dirty. Drawn with
 * Vega-Lite (interactive where the front end has a Vega renderer, with
 * tooltips naming the exact IOVA range), with an SVG fallback and a text
 * rendering that works in a terminal.
 */
import { chooseBucketing, countBuckets, type Bucketing } from "./dirty-buckets.js";
import { binaryUnitFor, formatBytes, formatHex, formatNs } from "./format.js";
import type { MimeBundle } from "./mime-bundle.js";
import { HEAT_RANGE } from "./theme.js";
import type { DirtyHeatmapInput, DirtyHeatmapOptions } from "./types.js";
import { vegaLiteChart } from "./vega-lite.js";

/** Characters from clean to fully dirty, for the text rendering. */
const RAMP = " .:-=+*#%@";
const TEXT_COLUMNS = 64;

interface Row {
  sync: string;
  start: number;
  end: number;
  dirty: number;
  share: number;
  range: string;
}

function syncLabels(input: DirtyHeatmapInput): string[] {
  const seen = new Set<string>();
  return input.syncs.map((s, i) => {
    let label = s.label ?? `#${i + 1} ${formatNs(s.timeNs)}`;
    if (seen.has(label)) label = `${label} (${i + 1})`;
    seen.add(label);
    return label;
  });
}

function textRendering(labels: string[], counts: Float64Array[], b: Bucketing, heading: string): string {
  const merge = Math.ceil(b.buckets / TEXT_COLUMNS);
  const columns = Math.ceil(b.buckets / merge);
  const cellPages = b.bucketPages * merge;
  const w = Math.max(...labels.map((l) => [...l].length));
  const lines = [heading, `${" ".repeat(w)} |${"-".repeat(columns)}|  dirty`];
  counts.forEach((c, i) => {
    let row = "";
    let total = 0;
    for (let col = 0; col < columns; col++) {
      let sum = 0;
      for (let k = col * merge; k < Math.min((col + 1) * merge, b.buckets); k++) sum += c[k]!;
      total += sum;
      // any dirty page shows at least the faintest mark
      row += sum === 0 ? RAMP[0] : RAMP[Math.max(1, Math.min(RAMP.length - 1, Math.ceil((sum / cellPages) * (RAMP.length - 1))))];
    }
    lines.push(`${labels[i]!.padEnd(w)} |${row}|  ${total}`);
  });
  lines.push(`${" ".repeat(w)}  one column = ${cellPages} pages; "${RAMP}" = 0 to 100% dirty`);
  return lines.join("\n");
}

/**
 * Draw the dirty pages of successive syncs over an IOVA range.
 *
 * @example await dirtyHeatmap({ iovaBase: 0x1_0000_0000n, pageSize: 4096, syncs: [{ timeNs: 1e6, dirty: bitmapWords }] })
 */
export async function dirtyHeatmap(input: DirtyHeatmapInput, options: DirtyHeatmapOptions = {}): Promise<MimeBundle> {
  const { pageSize } = input;
  if (!Number.isInteger(pageSize) || pageSize < 1 || (pageSize & (pageSize - 1)) !== 0) throw new Error(`pageSize must be a power of two, got ${pageSize}`);
  if (input.syncs.length === 0) throw new Error("a dirty-page heat map needs at least one sync");
  const b = chooseBucketing(input.syncs, input.pages, options.maxBuckets ?? 128);
  const base = BigInt(input.iovaBase);
  const rangeBytes = b.pages * pageSize;
  const unit = binaryUnitFor(rangeBytes);
  const labels = syncLabels(input);
  const counts = input.syncs.map((s, i) => countBuckets(s.dirty, b, i + 1));

  const values: Row[] = [];
  counts.forEach((c, i) => {
    c.forEach((dirty, k) => {
      if (dirty === 0) return;
      const first = k * b.bucketPages;
      const last = Math.min(first + b.bucketPages, b.pages);
      const lo = base + BigInt(first) * BigInt(pageSize);
      const hi = base + BigInt(last) * BigInt(pageSize) - 1n;
      values.push({
        sync: labels[i]!,
        start: (first * pageSize) / unit.size,
        end: (last * pageSize) / unit.size,
        dirty,
        share: dirty / (last - first),
        range: `${formatHex(lo)}–${formatHex(hi)}`,
      });
    });
  });

  const title = options.title ?? "Dirty pages per sync";
  const subtitle = `${formatBytes(rangeBytes)} from ${formatHex(base)}, ${formatBytes(pageSize)} pages, ${b.bucketPages} pages per bucket`;
  const height = input.syncs.length <= 40 ? { step: 14 } : 560;
  const spec = {
    title: { text: title, subtitle },
    width: options.width ?? 560,
    height,
    data: { values },
    mark: { type: "rect" },
    encoding: {
      x: {
        field: "start",
        type: "quantitative",
        scale: { domain: [0, rangeBytes / unit.size], nice: false, zero: true },
        axis: { title: `IOVA offset from ${formatHex(base)} (${unit.name})` },
      },
      x2: { field: "end" },
      y: { field: "sync", type: "ordinal", sort: labels, scale: { domain: labels }, axis: { title: "sync" } },
      color: {
        field: "dirty",
        type: "quantitative",
        scale: { range: [...HEAT_RANGE], interpolate: "hcl" },
        legend: { title: "dirty pages" },
      },
      tooltip: [
        { field: "sync", type: "ordinal", title: "sync" },
        { field: "range", type: "nominal", title: "IOVA" },
        { field: "dirty", type: "quantitative", title: "dirty pages" },
        { field: "share", type: "quantitative", title: "share dirty", format: ".1%" },
      ],
    },
  };
  const text = textRendering(labels, counts, b, `${title}: ${subtitle}`);
  return vegaLiteChart(spec, { alt: text, ...(options.html === undefined ? {} : { html: options.html }) });
}
