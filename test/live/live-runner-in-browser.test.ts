/**
 * The live runner in Debian's chromium: the page's LiveRunner (dist/browser/live-runner.js) and its
 * worker run notebook cells against the emulator's browser build. 00-first-migration and
 * 01-uapi-tour, cell by cell, give the outputs the Jupyter kernel gives (text, HTML and SVG,
 * byte for byte); an edited cell gives its new output; a throw is an error output; a cell that
 * loops is stopped at the time limit and the next cell still sees what earlier cells declared.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeNotebook } from "../../kernel-lib/kernel/notebook-check.js";
import { joinSource, type Notebook } from "../../kernel-lib/kernel/notebook.js";
import { serveScripts, type ScriptServer } from "../../bench/script-server.js";
import { dist, repoRoot, requireBuild } from "../kernel/helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const TYPESCRIPT = join(repoRoot, "node_modules", "typescript", "lib", "typescript.js");

type Output = Record<string, any>;

/** What of an output must be the same in the page as in the kernel: its kind and its text, HTML and SVG. */
function comparable(output: Output): unknown {
  switch (output.output_type) {
    case "stream":
      return { stream: output.name, text: output.text };
    case "error":
      return { error: output.ename, evalue: output.evalue };
    default: {
      const data = output.data as Record<string, unknown>;
      return { [output.output_type]: { text: data["text/plain"], html: data["text/html"], svg: data["image/svg+xml"], claim: data["application/vnd.vfio-workbench.claim+json"] } };
    }
  }
}

let server: ScriptServer | undefined;
let origin: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  requireBuild();
  server = await serveScripts({ dir: join(dist, "browser"), extra: { "/typescript.js": TYPESCRIPT }, title: "live" });
  origin = server.origin;
  if (!haveChromium) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  page = await browser.newPage();
  await page.goto(`${origin}/`);
  await page.evaluate(`import("/live-runner.js").then(({ LiveRunner }) => {
    globalThis.newRunner = (timeLimitMs) => new LiveRunner({ workerUrl: "/live-worker.js", typescriptUrl: "/typescript.js", libraryUrl: "/vfio-workbench.js", timeLimitMs });
  })`);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Runs cells in order in one new runner of the page; each cell's { ok, timedOut, outputs }. */
function runLive(cells: readonly string[], timeLimitMs = 60_000): Promise<Array<{ ok: boolean; timedOut: boolean; outputs: Output[] }>> {
  return page.evaluate(
    `(async () => { const runner = newRunner(${timeLimitMs}); const out = []; for (const code of ${JSON.stringify(cells)}) out.push(await runner.run(code)); runner.reset(); return out; })()`,
  ) as Promise<Array<{ ok: boolean; timedOut: boolean; outputs: Output[] }>>;
}

async function sameAsKernel(name: string): Promise<void> {
  const run = await executeNotebook(join(repoRoot, "notebooks", name));
  expect(run.ok, `${name} through the kernel`).toBe(true);
  const cells = (run.notebook as Notebook).cells.filter((c) => c.cell_type === "code");
  // the comparison means something: the kernel's outputs hold claims, tables and figures
  const kinds = new Set(cells.flatMap((c) => (c.outputs ?? []).flatMap((o) => Object.keys((o as Output).data ?? {}))));
  expect([...kinds]).toEqual(expect.arrayContaining(["text/plain", "text/html", "application/vnd.vfio-workbench.claim+json"]));
  const live = await runLive(cells.map((c) => joinSource(c.source)));
  cells.forEach((cell, i) => {
    const kernel = (cell.outputs ?? []).map((o) => comparable(o as Output));
    expect(live[i]!.outputs.map(comparable), `${name}, cell ${i + 1} (id ${cell.id})`).toEqual(kernel);
  });
}

describe.skipIf(!haveChromium)("the live runner in chromium", () => {
  it("runs every cell of 00-first-migration with the kernel's outputs", () => sameAsKernel("00-first-migration.ipynb"), 180_000);

  it("runs every cell of 01-uapi-tour with the kernel's outputs", () => sameAsKernel("01-uapi-tour.ipynb"), 180_000);

  it("gives an edited cell its new output: another target state, another path", async () => {
    const open = [
      'import { createEmuBackend, Container, Group } from "vfio-workbench";',
      "const host = createEmuBackend({ seed: 1, name: \"live\", devices: [{ model: \"nic\" }] });",
      "const container = Container.open(host.sys); const group = Group.open(host.sys, host.devices[0].group);\ngroup.setContainer(container); container.setIommu();\nconst dev = group.device(host.devices[0].address);",
    ];
    const [stop] = (await runLive([...open, 'dev.migration!.set("STOP").path'])).slice(-1);
    const [copy] = (await runLive([...open, 'dev.migration!.set("STOP_COPY").path'])).slice(-1);
    expect(stop!.outputs.map((o) => o.data?.["text/plain"])).toEqual(["[ 'RUNNING', 'RUNNING_P2P', 'STOP' ]"]);
    expect(copy!.outputs.map((o) => o.data?.["text/plain"])).toEqual(["[ 'RUNNING', 'RUNNING_P2P', 'STOP', 'STOP_COPY' ]"]);
  }, 120_000);

  it("shows a throw as an error output, and stops a loop at the time limit; the next cell still runs with what came before", async () => {
    const runs = await runLive(["const kept = 41;", 'throw new RangeError("refused")', "while (true) {}", "kept + 1"], 3_000);
    expect(runs.map((r) => [r.ok, r.timedOut])).toEqual([[true, false], [false, false], [false, true], [true, false]]);
    expect(runs[1]!.outputs).toEqual([expect.objectContaining({ output_type: "error", ename: "RangeError", evalue: "refused" })]);
    expect(runs[2]!.outputs[0]).toMatchObject({ output_type: "error", ename: "TimeoutError" });
    expect(runs[3]!.outputs).toEqual([expect.objectContaining({ output_type: "execute_result", data: { "text/plain": "42" } })]);
  }, 120_000);

  it("interrupts a looping cell when asked, and the next cell still sees what came before", async () => {
    const runs = (await page.evaluate(`(async () => {
      const runner = newRunner(60000);
      const first = await runner.run("const kept = 6;");
      const looping = runner.run("while (true) {}");
      setTimeout(() => runner.interrupt(), 1500);
      const stopped = await looping;
      const after = await runner.run("kept * 7");
      runner.reset();
      return [first, stopped, after];
    })()`)) as Array<{ ok: boolean; timedOut: boolean; outputs: Output[] }>;
    expect(runs[1]).toMatchObject({ ok: false, timedOut: false, outputs: [{ output_type: "error", ename: "KeyboardInterrupt", evalue: "the cell was interrupted" }] });
    expect(runs[2]!.outputs).toEqual([expect.objectContaining({ output_type: "execute_result", data: { "text/plain": "42" } })]);
  }, 120_000);
});
