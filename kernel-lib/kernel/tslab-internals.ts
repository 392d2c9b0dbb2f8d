import { createRequire } from "node:module";

/**
 * tslab's converter and executor are internal modules, not a public API: package.json pins
 * tslab's exact version, and everything this package uses from tslab is loaded here.
 */

type ConverterModule = typeof import("tslab/dist/converter.js");
type ExecutorModule = typeof import("tslab/dist/executor.js");
type JupyterModule = typeof import("tslab/dist/jupyter.js");
type MetadataModule = typeof import("tslab/dist/metadata.js");
type InspectModule = typeof import("tslab/dist/inspect.js");

export type { Converter, ConvertResult, Diagnostic } from "tslab/dist/converter.js";
export type { ConverterSet, Executor, ConsoleInterface } from "tslab/dist/executor.js";

const requireFromHere = createRequire(import.meta.url);

export const converterModule = requireFromHere("tslab/dist/converter") as ConverterModule;
export const executorModule = requireFromHere("tslab/dist/executor") as ExecutorModule;
export const metadataModule = requireFromHere("tslab/dist/metadata") as MetadataModule;
export const inspectModule = requireFromHere("tslab/dist/inspect") as InspectModule;

/** tslab's own display API (`tslab.display.*`) writes through this module's `lastWriteDisplayData`. */
export function tslabJupyterModule(): { lastWriteDisplayData: JupyterModule["lastWriteDisplayData"] } {
  return requireFromHere("tslab/dist/jupyter") as JupyterModule;
}

/** The TypeScript compiler tslab bundles and type-checks cells with. */
export function tslabTypeScript(): { sys: Record<string, unknown> } {
  const requireFromTslab = createRequire(requireFromHere.resolve("tslab/package.json"));
  return requireFromTslab("@tslab/typescript-for-tslab") as { sys: Record<string, unknown> };
}
