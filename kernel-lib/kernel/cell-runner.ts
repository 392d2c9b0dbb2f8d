import { inspect as inspectValue } from "node:util";
import {
  converterModule,
  executorModule,
  inspectModule,
  metadataModule,
  type Converter,
  type ConverterSet,
  type Diagnostic,
  type Executor,
} from "./tslab-internals.js";

/**
 * Runs notebook cells with tslab's converter (type-check + compile to CommonJS) and executor
 * (runs the result in this process, keeping declarations between cells), and reports what
 * happened as data instead of console text: the last expression's value, or a structured error.
 */

export interface CellError {
  ename: string;
  evalue: string;
  traceback: string[];
}

export type CellOutcome = { status: "ok"; value?: { value: unknown } } | { status: "error"; error: CellError };

export const INTERRUPT_ENAME = "KeyboardInterrupt";
export const TYPE_ERROR_ENAME = "TSError";

/** Frames of the machinery that runs a cell; everything from the first of them down says nothing about the cell. */
const MACHINERY_FRAME = /^\s+at .*(?:\(node:vm:|node:internal\/process\/task_queues|\/tslab\/dist\/|\/kernel-lib\/kernel\/(?:cell-runner|kernel)\.[jt]s)/;
const DIAGNOSTIC_FORMAT = "%s%d:%d - %s";

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.fileName ? `${d.fileName}:` : ""}${d.start.line + 1}:${d.start.character + 1} - error TS${d.code}: ${d.messageText}`;
}

function typeScriptError(diagnostics: Diagnostic[]): CellError {
  const lines = diagnostics.map(formatDiagnostic);
  return { ename: TYPE_ERROR_ENAME, evalue: lines.join("\n"), traceback: [`${TYPE_ERROR_ENAME}: TypeScript cannot compile this cell`, ...lines] };
}

function isInterrupt(err: Error): boolean {
  return (err as { code?: string }).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED" || err.message === "Interrupted asynchronously";
}

function stackLines(err: Error, depth = 0): string[] {
  let lines = typeof err.stack === "string" && err.stack !== "" ? err.stack.split("\n") : [`${err.name}: ${err.message}`];
  // Node prefixes errors thrown by a vm script with the compiled line and a caret; the frames below say where.
  const heading = lines.findIndex((line) => line.startsWith(`${err.name}:`) || line === err.name);
  if (heading > 0) lines = lines.slice(heading);
  const machinery = lines.findIndex((line) => MACHINERY_FRAME.test(line));
  if (machinery >= 0) lines = lines.slice(0, machinery);
  if (err.cause instanceof Error && depth < 3) lines.push(`Caused by: ${stackLines(err.cause, depth + 1).join("\n")}`);
  return lines;
}

/** Describes anything a cell threw as a Jupyter error. */
export function describeThrown(thrown: unknown): CellError {
  if (thrown instanceof Error) {
    if (isInterrupt(thrown)) {
      return { ename: INTERRUPT_ENAME, evalue: "the cell was interrupted", traceback: [`${INTERRUPT_ENAME}: the cell was interrupted`] };
    }
    const ename = thrown.name || thrown.constructor?.name || "Error";
    return { ename, evalue: String(thrown.message), traceback: stackLines(thrown) };
  }
  const text = inspectValue(thrown);
  return { ename: "Uncaught", evalue: text, traceback: [`Uncaught ${text}`] };
}

/** Keeps the last conversion's diagnostics, which tslab's executor only prints. */
class RecordingConverters implements ConverterSet {
  diagnostics: Diagnostic[] = [];
  private browserConverter: Converter | undefined;
  readonly node: Converter;

  constructor() {
    this.node = this.recording(converterModule.createConverter({ isJS: false, isBrowser: false }));
  }

  get browser(): Converter {
    this.browserConverter ??= this.recording(converterModule.createConverter({ isJS: false, isBrowser: true }));
    return this.browserConverter;
  }

  private recording(converter: Converter): Converter {
    return {
      ...converter,
      convert: (prevDecl, src) => {
        const result = converter.convert(prevDecl, src);
        this.diagnostics = result.diagnostics;
        return result;
      },
      addModule: (name, content, meta) => {
        const diagnostics = converter.addModule(name, content, meta);
        this.diagnostics = diagnostics;
        return diagnostics;
      },
    };
  }

  close(): void {
    this.node.close();
    this.browserConverter?.close();
  }
}

export interface Completion {
  start: number;
  end: number;
  matches: string[];
}

export class CellRunner {
  private readonly converters: RecordingConverters;
  private readonly executor: Executor;
  private lastValue: { value: unknown } | undefined;
  private thrown: { value: unknown } | undefined;

  /** Creating the TypeScript program takes about a second; do it before the first cell. */
  constructor(rootDir: string = process.cwd()) {
    this.converters = new RecordingConverters();
    this.executor = executorModule.createExecutor(rootDir, this.converters, {
      log: (value: unknown) => {
        // The executor logs exactly one thing itself: the cell's last expression value.
        this.lastValue = { value };
      },
      error: (first: unknown, ...rest: unknown[]) => {
        if (first === DIAGNOSTIC_FORMAT && rest.length === 4) return; // already recorded, structured
        this.thrown = { value: first };
      },
    });
  }

  async run(code: string): Promise<CellOutcome> {
    this.converters.diagnostics = [];
    this.lastValue = undefined;
    this.thrown = undefined;
    if (metadataModule.getCodeMetadata(code).mode === "browser") {
      return {
        status: "error",
        error: { ename: "UnsupportedCell", evalue: "browser cells (/** @browser */) are not supported by this kernel", traceback: [] },
      };
    }
    let ok: boolean;
    try {
      ok = await this.executor.execute(code);
    } catch (err) {
      return { status: "error", error: describeThrown(err) };
    }
    // The executor's console callbacks set these while execute() ran.
    const thrown = this.thrown as { value: unknown } | undefined;
    const lastValue = this.lastValue as { value: unknown } | undefined;
    if (this.converters.diagnostics.length > 0) return { status: "error", error: typeScriptError(this.converters.diagnostics) };
    if (thrown) return { status: "error", error: describeThrown(thrown.value) };
    if (!ok) throw new Error("tslab's executor reported a failure without a diagnostic or an exception");
    return lastValue ? { status: "ok", value: lastValue } : { status: "ok" };
  }

  /** Stops a cell waiting on a promise; a blocking cell is stopped by SIGINT itself (the executor runs scripts with breakOnSigint). */
  interrupt(): void {
    this.executor.interrupt();
  }

  /** Hover text for the symbol at `cursor` (a UTF-16 offset), or null. */
  inspect(code: string, cursor: number): string | null {
    const info = this.executor.inspect(code, cursor);
    return info ? inspectModule.printQuickInfo(info) : null;
  }

  /** Completion candidates at `cursor` (UTF-16 offsets). */
  complete(code: string, cursor: number): Completion {
    const info = this.executor.complete(code, cursor);
    return { start: info.start, end: info.end, matches: info.candidates };
  }

  isComplete(code: string): { status: "complete" } | { status: "incomplete"; indent: string } {
    const result = converterModule.isCompleteCode(code);
    return result.completed ? { status: "complete" } : { status: "incomplete", indent: result.indent ?? "" };
  }

  close(): void {
    this.executor.close();
  }
}
