/**
 * Display helpers: charts, diagrams, byte layouts and tables as notebook output
 * bundles. Every helper returns a MimeBundle (several representations of one
 * picture); the kernel shows it as a cell's value or through display().
 * Helpers that render with Vega are async.
 */
export { MIME_BUNDLE, mimeBundle, isMimeBundle, type MimeBundle } from "./mime-bundle.js";
export type * from "./types.js";
export { displayTheme } from "./theme.js";
export { Plot, plotChart, type PlotChartOptions } from "./plot.js";
export { vegaLiteChart, VEGALITE_MIME, type VegaLiteSpec, type VegaLiteChartOptions } from "./vega-lite.js";
export { fsmDiagram } from "./fsm-diagram.js";
export { stateMachineDiagram } from "./state-machine-diagram.js";
export { fsmFromFlagSets, type FlagSetArcs } from "./fsm-from-flag-sets.js";
export { byteMap, byteMapOf, type ByteMapOptions } from "./byte-map.js";
export { dirtyHeatmap } from "./dirty-heatmap.js";
export { migrationTimeline } from "./migration-timeline.js";
export { table, type TableColumn, type TableOptions, type TableRow } from "./table.js";
export { reportTable } from "./conformance-report.js";
export { claim, claimBundle, ClaimError, CLAIM_MIME, type ClaimOptions, type ClaimRecord } from "./claim.js";
export { expectErrno, expectEqual, errnoOf } from "./expect.js";
