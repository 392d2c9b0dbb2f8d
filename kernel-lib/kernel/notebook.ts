import { createHash } from "node:crypto";

/**
 * Jupyter notebooks (nbformat 4): reading, the outputs a kernel's iopub messages turn into,
 * and writing in Jupyter's own layout (sorted keys, one-space indent, multi-line strings as
 * lists of lines) so that executed notebooks diff cleanly.
 */

export type MultilineString = string | string[];

/** A file that is not a notebook this package can run. */
export class NotebookFormatError extends Error {
  override name = "NotebookFormatError";
}

export interface StreamOutput {
  output_type: "stream";
  name: "stdout" | "stderr";
  text: MultilineString;
}

export interface DisplayDataOutput {
  output_type: "display_data";
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

export interface ExecuteResultOutput {
  output_type: "execute_result";
  execution_count: number | null;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

export interface ErrorOutput {
  output_type: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}

export type Output = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

export interface Cell {
  id?: string;
  cell_type: "code" | "markdown" | "raw";
  source: MultilineString;
  metadata: Record<string, unknown>;
  outputs?: Output[];
  execution_count?: number | null;
  attachments?: Record<string, unknown>;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: Cell[];
}

/** The oldest minor version with cell ids, which executed notebooks are written as. */
export const NBFORMAT_MINOR = 5;

export function joinSource(source: MultilineString | undefined): string {
  return Array.isArray(source) ? source.join("") : (source ?? "");
}

/** Jupyter's on-disk form of a multi-line string: lines that keep their "\n". */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function parseNotebook(text: string, source: string): Notebook {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new NotebookFormatError(`${source}: not a notebook (invalid JSON: ${(err as Error).message})`);
  }
  if (!isObject(raw) || !Array.isArray(raw.cells)) throw new NotebookFormatError(`${source}: not a notebook (no "cells" list)`);
  if (raw.nbformat !== 4) throw new NotebookFormatError(`${source}: nbformat ${JSON.stringify(raw.nbformat)} is not supported (only nbformat 4)`);
  raw.cells.forEach((cell, i) => {
    if (!isObject(cell) || !["code", "markdown", "raw"].includes(cell.cell_type as string)) {
      throw new NotebookFormatError(`${source}: cell ${i + 1} has no valid cell_type`);
    }
    if (typeof cell.source !== "string" && !Array.isArray(cell.source)) throw new NotebookFormatError(`${source}: cell ${i + 1} has no source`);
    cell.metadata = isObject(cell.metadata) ? cell.metadata : {};
  });
  return {
    nbformat: 4,
    nbformat_minor: typeof raw.nbformat_minor === "number" ? raw.nbformat_minor : 0,
    metadata: isObject(raw.metadata) ? raw.metadata : {},
    cells: raw.cells as Cell[],
  };
}

export function cellTags(cell: Cell): string[] {
  const tags = cell.metadata.tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === "string") : [];
}

/**
 * nbformat 4.5 requires a unique id on every cell. Missing ones are derived from the cell's
 * position and content, so executing the same notebook twice writes the same ids.
 */
export function ensureCellIds(notebook: Notebook): void {
  const used = new Set(notebook.cells.map((c) => c.id).filter((id): id is string => typeof id === "string" && id !== ""));
  notebook.cells.forEach((cell, index) => {
    if (typeof cell.id === "string" && /^[a-zA-Z0-9-_]{1,64}$/.test(cell.id)) return;
    const digest = createHash("sha256").update(`${index}\0${cell.cell_type}\0${joinSource(cell.source)}`).digest("hex");
    let id = digest.slice(0, 8);
    for (let n = 8; used.has(id); n++) id = digest.slice(0, n + 1);
    cell.id = id;
    used.add(id);
  });
  notebook.nbformat_minor = Math.max(notebook.nbformat_minor, NBFORMAT_MINOR);
}

function isJsonMime(mime: string): boolean {
  return mime === "application/json" || mime.endsWith("+json");
}

function splitData(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [mime, value] of Object.entries(data)) out[mime] = typeof value === "string" && !isJsonMime(mime) ? splitLines(value) : value;
  return out;
}

function diskOutput(output: Output): Output {
  switch (output.output_type) {
    case "stream":
      return { ...output, text: splitLines(joinSource(output.text)) };
    case "display_data":
    case "execute_result":
      return { ...output, data: splitData(output.data) };
    case "error":
      return output;
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
  return out;
}

export function serializeNotebook(notebook: Notebook): string {
  const cells = notebook.cells.map((cell) => {
    const out: Cell = { ...cell, source: splitLines(joinSource(cell.source)) };
    if (cell.cell_type === "code") {
      out.outputs = (cell.outputs ?? []).map(diskOutput);
      out.execution_count = cell.execution_count ?? null;
    }
    return out;
  });
  return `${JSON.stringify(sortKeys({ ...notebook, cells }), null, 1)}\n`;
}

/**
 * Builds one cell's outputs from the iopub messages of its execution. Display ids are shared
 * across the notebook: update_display_data replaces the output wherever it was shown.
 */
export class OutputCollector {
  readonly outputs: Output[] = [];
  private clearOnNext = false;

  constructor(private readonly displays: Map<string, DisplayDataOutput[]>) {}

  add(msgType: string, content: Record<string, unknown>): void {
    if (msgType === "clear_output") {
      if (content.wait === true) this.clearOnNext = true;
      else this.outputs.length = 0;
      return;
    }
    if (msgType === "update_display_data") {
      const id = displayId(content);
      for (const output of (id && this.displays.get(id)) || []) {
        output.data = dataOf(content);
        output.metadata = metadataOf(content);
      }
      return;
    }
    if (!["stream", "display_data", "execute_result", "error"].includes(msgType)) return;
    if (this.clearOnNext) {
      this.outputs.length = 0;
      this.clearOnNext = false;
    }
    switch (msgType) {
      case "stream": {
        const name = content.name === "stderr" ? "stderr" : "stdout";
        const text = typeof content.text === "string" ? content.text : "";
        const last = this.outputs.at(-1);
        if (last?.output_type === "stream" && last.name === name) last.text = joinSource(last.text) + text;
        else this.outputs.push({ output_type: "stream", name, text });
        return;
      }
      case "display_data": {
        const output: DisplayDataOutput = { output_type: "display_data", data: dataOf(content), metadata: metadataOf(content) };
        this.outputs.push(output);
        const id = displayId(content);
        if (id) this.displays.set(id, [...(this.displays.get(id) ?? []), output]);
        return;
      }
      case "execute_result":
        this.outputs.push({
          output_type: "execute_result",
          execution_count: typeof content.execution_count === "number" ? content.execution_count : null,
          data: dataOf(content),
          metadata: metadataOf(content),
        });
        return;
      case "error":
        this.outputs.push({
          output_type: "error",
          ename: String(content.ename ?? "Error"),
          evalue: String(content.evalue ?? ""),
          traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
        });
        return;
    }
  }
}

function dataOf(content: Record<string, unknown>): Record<string, unknown> {
  return isObject(content.data) ? { ...content.data } : {};
}

function metadataOf(content: Record<string, unknown>): Record<string, unknown> {
  return isObject(content.metadata) ? { ...content.metadata } : {};
}

function displayId(content: Record<string, unknown>): string | undefined {
  const transient = content.transient;
  return isObject(transient) && typeof transient.display_id === "string" ? transient.display_id : undefined;
}
