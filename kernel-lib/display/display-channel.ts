import { isMimeBundle, type MimeBundle } from "./mime-bundle.js";

/**
 * How a cell (or a display helper called from one) sends rich output to the notebook:
 * `display(bundle)` emits one display_data output carrying every mime type of the bundle;
 * with a display id, `updateDisplay(id, bundle)` later replaces that output in place.
 *
 * The running kernel installs the sink. It lives on globalThis under a registered symbol so
 * that a second copy of this package (say, one installed next to the notebook while the kernel
 * runs from another) still reaches the same kernel.
 */

export interface DisplayOptions {
  /** lets updateDisplay() replace this output later */
  displayId?: string;
}

/** mime type -> JSON-safe content (binary content becomes base64, as Jupyter expects) */
export type MimeData = Record<string, unknown>;

export interface DisplaySink {
  display(data: MimeData, metadata: Record<string, unknown>, displayId: string | undefined, update: boolean): void;
}

export interface DisplayHandle {
  readonly displayId: string;
  /** replaces the output this handle was created for */
  update(bundle: MimeBundle): void;
}

const SINK = Symbol.for("vfio-workbench.display-sink");

type SinkHolder = { [SINK]?: DisplaySink | null };

/** Used by the kernel: where display output goes while it runs (null to detach). */
export function setDisplaySink(sink: DisplaySink | null): void {
  (globalThis as SinkHolder)[SINK] = sink;
}

function currentSink(): DisplaySink | null {
  return (globalThis as SinkHolder)[SINK] ?? null;
}

export function newDisplayId(): string {
  // Web Crypto: the same in Node and in a browser page
  return Array.from(globalThis.crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Jupyter carries binary outputs (PNG, PDF, ...) as base64 strings. */
export function jsonSafeData(data: Readonly<Record<string, unknown>>): MimeData {
  const out: MimeData = {};
  for (const [mime, value] of Object.entries(data)) out[mime] = value instanceof Uint8Array ? base64(value) : value;
  return out;
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function emit(bundle: MimeBundle, displayId: string | undefined, update: boolean): void {
  if (!isMimeBundle(bundle)) throw new TypeError("display() takes a mime bundle (see mimeBundle() in the display helpers)");
  const sink = currentSink();
  if (sink) {
    sink.display(jsonSafeData(bundle.data), { ...bundle.metadata }, displayId, update);
    return;
  }
  // Outside a kernel (a plain Node script or test) the plain-text form is all there is.
  console.log(String(bundle.data["text/plain"]));
}

/** Shows a bundle as a new output of the running cell. */
export function display(bundle: MimeBundle, options: DisplayOptions = {}): DisplayHandle {
  const displayId = options.displayId ?? newDisplayId();
  emit(bundle, displayId, false);
  return { displayId, update: (next) => updateDisplay(displayId, next) };
}

/** Replaces every output shown with this display id (in any cell) by the new bundle. */
export function updateDisplay(displayId: string, bundle: MimeBundle): void {
  if (typeof displayId !== "string" || displayId === "") throw new TypeError("updateDisplay() needs the display id given to display()");
  emit(bundle, displayId, true);
}
