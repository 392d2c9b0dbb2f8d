/**
 * "Run live" on a notebook page (bundled into assets/live/live-page.js, loaded only when the
 * reader asks for it by site.js): the code cells become editors (CodeMirror 6), each gets a Run
 * button, and the page gets Run all and Reset. Cells run in a Web Worker against the emulator's
 * browser build (live-runner.ts); their outputs are drawn by the renderer that drew the built
 * page (docs-site/outputs.ts), so an unchanged cell shows what the page showed.
 */
import { javascript } from "@codemirror/lang-javascript";
import { basicSetup, EditorView } from "codemirror";
import type { Notebook, Output } from "../../kernel-lib/kernel/notebook.js";
import { focusableScrollers } from "../layout.js";
import { createMarkdown } from "../markdown.js";
import { OutputRenderer } from "../outputs.js";
import { LiveRunner, type CellOutput } from "./live-runner.js";

export interface LiveOptions {
  /** the folder of the live assets (…/assets/live/), absolute */
  assets: string;
  /** the page's notebook (…/notebooks/NAME.ipynb), absolute */
  notebook: string;
  slug: string;
}

/** The tag of a cell that needs a real /dev/vfio; the page has only the emulator. */
const NATIVE_ONLY_TAG = "native-only";

interface LiveCell {
  id: string;
  source: string;
  tags: string[];
  /** the cell on the page; absent for a remove-cell cell, which still runs */
  element: HTMLElement | null;
  editor: EditorView | null;
  outputs: HTMLElement | null;
  builtOutputs: string;
  ran: boolean;
}

const joinSource = (source: string | string[]) => (Array.isArray(source) ? source.join("") : source);

function button(label: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "live-button";
  b.textContent = label;
  b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

export async function startLive(options: LiveOptions): Promise<{ runAll(): Promise<void>; reset(): void }> {
  const response = await fetch(options.notebook);
  if (!response.ok) throw new Error(`cannot load ${options.notebook}: HTTP ${response.status}`);
  const notebook = (await response.json()) as Notebook;
  const md = createMarkdown();
  const renderer = new OutputRenderer(md, `live-${options.slug}`);
  const runner = new LiveRunner({
    workerUrl: new URL("live-worker.js", options.assets).href,
    typescriptUrl: new URL("typescript.js", options.assets).href,
    libraryUrl: new URL("vfio-workbench.js", options.assets).href,
  });

  const main = document.getElementById("main")!;
  const status = document.createElement("p");
  status.className = "live-status";
  status.setAttribute("role", "status");

  const cells: LiveCell[] = notebook.cells
    .filter((c) => c.cell_type === "code")
    .map((c) => {
      const element = document.getElementById(`cell-${c.id}`);
      let outputs = element?.querySelector<HTMLElement>(":scope > .outputs") ?? null;
      if (element && !outputs) {
        outputs = document.createElement("div");
        outputs.className = "outputs";
        element.appendChild(outputs);
      }
      return { id: String(c.id), source: joinSource(c.source), tags: (c.metadata?.tags as string[] | undefined) ?? [], element, editor: null, outputs, builtOutputs: outputs?.innerHTML ?? "", ran: false };
    });

  const show = (cell: LiveCell, outputs: readonly CellOutput[]) => {
    if (!cell.outputs) return;
    cell.outputs.innerHTML = focusableScrollers(renderer.render(outputs as unknown as Output[]).html);
  };

  const runOne = async (cell: LiveCell): Promise<boolean> => {
    if (cell.tags.includes(NATIVE_ONLY_TAG)) {
      show(cell, [{ output_type: "stream", name: "stderr", text: "skipped: this cell needs a real /dev/vfio (native-only); the page runs the emulator\n" }]);
      cell.ran = true;
      return true;
    }
    cell.element?.setAttribute("aria-busy", "true");
    const result = await runner.run(cell.editor ? cell.editor.state.doc.toString() : cell.source);
    cell.element?.removeAttribute("aria-busy");
    show(cell, result.outputs);
    cell.ran = true;
    return result.ok || cell.tags.includes("raises-exception");
  };

  /** Runs a cell after the cells above it that have not run in this session. */
  const runUpTo = async (target: LiveCell) => {
    for (const cell of cells) {
      if (cell === target) break;
      if (!cell.ran) {
        status.textContent = "Running the cells above it first…";
        if (!(await runOne(cell))) {
          status.textContent = "A cell above failed; see its output.";
          return;
        }
      }
    }
    status.textContent = "Running…";
    const ok = await runOne(target);
    status.textContent = ok ? "Done." : "The cell failed; see its output.";
  };

  const runAll = async () => {
    reset(false);
    for (const [i, cell] of cells.entries()) {
      status.textContent = `Running cell ${i + 1} of ${cells.length}…`;
      if (!(await runOne(cell))) {
        status.textContent = `Cell ${i + 1} failed; see its output.`;
        return;
      }
    }
    status.textContent = `All ${cells.length} cells ran.`;
  };

  /** Back to the built page's outputs (and, if asked, the cells' built sources), in a new worker. */
  const reset = (sources = true) => {
    runner.reset();
    for (const cell of cells) {
      cell.ran = false;
      if (cell.outputs) cell.outputs.innerHTML = cell.builtOutputs;
      if (sources && cell.editor) cell.editor.dispatch({ changes: { from: 0, to: cell.editor.state.doc.length, insert: cell.source } });
    }
    status.textContent = "";
  };

  for (const cell of cells) {
    const input = cell.element?.querySelector<HTMLElement>(":scope > pre.code.input");
    if (!cell.element || !input) continue;
    const host = document.createElement("div");
    host.className = "live-editor";
    input.replaceWith(host);
    cell.editor = new EditorView({ doc: cell.source, extensions: [basicSetup, javascript({ typescript: true }), EditorView.contentAttributes.of({ "aria-label": `code cell ${cell.id}` })], parent: host });
    const bar = document.createElement("div");
    bar.className = "live-cell-bar";
    bar.appendChild(button("Run", "Run this cell (after the cells above it that have not run)", () => void runUpTo(cell)));
    host.after(bar);
  }

  const banner = document.createElement("section");
  banner.className = "live-banner";
  banner.setAttribute("aria-label", "Live cells");
  const note = document.createElement("p");
  note.textContent =
    "Live: the cells run in this page, in your browser, against the emulator (no server; nothing is sent anywhere). Edit a cell and run it; Reset brings back the built page.";
  banner.append(
    note,
    button("Run all", "Run every cell from the first, in a fresh emulator", () => void runAll()),
    button("Stop", "Interrupt the running cell", () => runner.interrupt()),
    button("Reset", "Bring back the built outputs and code", () => reset()),
    status,
  );
  main.prepend(banner);
  document.documentElement.classList.add("live");
  return { runAll, reset: () => reset() };
}
