/**
 * The live runner's Web Worker (bundled by tools/bundle-browser.mjs into dist/browser/live-worker.js):
 * runs notebook cells in the reader's browser against the emulator's browser build, and answers
 * with the outputs Jupyter would save, in the shapes the kernel produces (kernel-lib/kernel):
 * streams for console output, display_data for display(), execute_result for a cell's value (a
 * mime bundle as its representations, anything else as util.inspect shows it), error for a throw.
 *
 * The TypeScript compiler is fetched and evaluated once, on the first cell: it only strips types
 * (the built pages were type-checked). A cell that loops forever cannot be stopped from in here;
 * the page terminates the worker (live-runner.ts).
 */
import { Buffer } from "buffer";
import { inspect } from "node-inspect-extracted";
import type ts from "typescript";
import type { WorkerReply, WorkerRequest, CellOutput } from "./protocol.js";
import { transformCell } from "./cell-transform.js";

type Library = typeof import("../../kernel-lib/index.js");

const scope = globalThis as unknown as Record<string | symbol, unknown> & { postMessage(message: WorkerReply): void };
let compiler: typeof ts | undefined;
let library: Library | undefined;
let outputs: CellOutput[] = [];

// Cells are written for Node, where Buffer is a global; the page gets the same class.
scope.Buffer = Buffer;

function stream(name: "stdout" | "stderr", args: unknown[]): void {
  const text = args.map((a) => (typeof a === "string" ? a : inspect(a))).join(" ") + "\n";
  const last = outputs.at(-1);
  // consecutive writes to one stream are one output, as Jupyter's front ends merge them
  if (last?.output_type === "stream" && last.name === name) last.text += text;
  else outputs.push({ output_type: "stream", name, text });
}

console.log = (...args: unknown[]) => stream("stdout", args);
console.info = console.log;
console.error = (...args: unknown[]) => stream("stderr", args);
console.warn = console.error;

async function load(typescriptUrl: string, libraryUrl: string): Promise<void> {
  if (!compiler) {
    const text = await (await fetch(typescriptUrl)).text();
    // the compiler's script declares a global `ts` when evaluated in the global scope
    (0, eval)(text);
    compiler = scope.ts as typeof ts;
  }
  library ??= (await import(/* @vite-ignore */ libraryUrl)) as Library;
  const lib = library;
  scope.__vwImport = (name: string) => {
    if (name === "vfio-workbench") return lib;
    throw new Error(`Cannot find module '${name}': a live cell can import only "vfio-workbench"`);
  };
  scope[Symbol.for("vfio-workbench.display-sink")] = {
    display(data: Record<string, unknown>, metadata: Record<string, unknown>, displayId: string | undefined, update: boolean) {
      outputs.push({ output_type: update ? "update_display_data" : "display_data", data, metadata, ...(displayId ? { transient: { display_id: displayId } } : {}) });
    },
  };
}

function errorOutput(thrown: unknown): CellOutput {
  if (thrown instanceof Error) {
    const ename = thrown.name || "Error";
    return { output_type: "error", ename, evalue: String(thrown.message), traceback: [`${ename}: ${thrown.message}`] };
  }
  const text = inspect(thrown);
  return { output_type: "error", ename: "Uncaught", evalue: text, traceback: [`Uncaught ${text}`] };
}

async function run(code: string, count: number): Promise<{ ok: boolean }> {
  outputs = [];
  try {
    const cell = transformCell(compiler!, code);
    (0, eval)(cell.declarations);
    const result = (await (0, eval)(cell.body)) as { value?: unknown };
    if ("value" in result && result.value !== undefined) {
      const value = result.value;
      const bundle = library!.isMimeBundle(value)
        ? { data: { ...value.data }, metadata: { ...value.metadata } }
        : { data: { "text/plain": inspect(value) }, metadata: {} };
      outputs.push({ output_type: "execute_result", execution_count: count, ...bundle });
    }
    return { ok: true };
  } catch (err) {
    outputs.push(errorOutput(err));
    return { ok: false };
  }
}

addEventListener("message", (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  void (async () => {
    try {
      await load(request.typescriptUrl, request.libraryUrl);
    } catch (err) {
      scope.postMessage({ id: request.id, ok: false, outputs: [errorOutput(new Error(`the live runner could not load: ${(err as Error).message}`))] });
      return;
    }
    const { ok } = await run(request.code, request.executionCount);
    scope.postMessage({ id: request.id, ok, outputs });
  })();
});
