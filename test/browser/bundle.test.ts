/**
 * The browser build of the emulated stack (dist/browser/vfio-workbench.js, made by
 * tools/bundle-browser.mjs at `npm run build`): nothing Node-only in it, and in Debian's chromium,
 * on a page with no Node globals, it runs a whole live migration of a NIC and an accelerator and
 * draws its figures (Vega-Lite and Plot through linkedom) with exactly the results Node gets from the same seed.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as lib from "../../kernel-lib/index.js";
import { serveScripts, type ScriptServer } from "../../bench/script-server.js";
import { dist, requireBuild } from "../kernel/helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);

/**
 * One scenario, run in Node on the sources and in the page on the bundle. It may use only its
 * argument (the package's exports), as its text is sent to the page.
 */
async function scenario(vw: typeof lib): Promise<string> {
  const vm = new vw.SimulatedVm({ memory: "16MiB", seed: 7, devices: [{ model: "nic" }, { model: "accel" }] }).run(2e6);
  const result = await vw.migrate(vm, {});
  const host = vw.createEmuBackend({ seed: 5, name: "page", devices: [{ model: "nic", name: "nic0" }] });
  const timeline = await vw.migrationTimeline(result.timeline);
  const heatmap = await vw.dirtyHeatmap(result.heatmap);
  const summary = vw.table([{ downtime_ms: result.downtimeNs / 1e6, total_ms: result.totalNs / 1e6 }]);
  return JSON.stringify(
    {
      ok: result.ok,
      downtimeNs: result.downtimeNs,
      totalNs: result.totalNs,
      rounds: result.timeline,
      devices: host.devices.map((d) => d.address),
      figures: [timeline, heatmap, summary],
      backend: vw.backendKindFromEnv(),
    },
    (_key, value: unknown) => (typeof value === "bigint" ? `${value}n` : value),
  );
}

let server: ScriptServer | undefined;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  requireBuild();
  server = await serveScripts({ dir: join(dist, "browser"), title: "bundle" });
  origin = server.origin;
  if (haveChromium) browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe("the browser bundle", () => {
  it("holds no Node built-in: every module that needs Node is replaced by its .browser twin", () => {
    const meta = JSON.parse(readFileSync(join(dist, "browser", "meta.json"), "utf8")) as { inputs: Record<string, { imports: { path: string }[] }> };
    const inputs = Object.keys(meta.inputs);
    expect(inputs.some((f) => f.endsWith("dist/hw-emu/sim/digest.browser.js"))).toBe(true);
    expect(inputs.some((f) => f.endsWith("dist/kernel-lib/backends/native/index.browser.js"))).toBe(true);
    for (const twin of ["hw-emu/sim/digest.js", "kernel-lib/backends/native/index.js", "kernel-lib/backends/native/loader.js", "kernel-lib/kernel/import-esm.js", "kernel-lib/vfio/read-table-file.js"]) {
      expect(inputs.filter((f) => f.endsWith(`dist/${twin}`)), twin).toEqual([]);
    }
    const imports = Object.values(meta.inputs).flatMap((i) => i.imports.map((x) => x.path));
    expect(imports.filter((p) => p.startsWith("node:"))).toEqual([]);
    expect(inputs.some((f) => f.includes("node_modules/typescript/"))).toBe(false);
  });

  it.skipIf(!haveChromium)("runs in chromium on a page without Node globals, with the results Node gets from the same seed", async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${origin}/`);
    const globals = await page.evaluate(() => [typeof (globalThis as Record<string, unknown>).process, typeof (globalThis as Record<string, unknown>).Buffer, typeof (globalThis as Record<string, unknown>).require]);
    expect(globals).toEqual(["undefined", "undefined", "undefined"]);
    // as text: the test's own code is transformed by vitest, the page must see a plain import()
    const inPage = (await page.evaluate(`(async () => { const vw = await import("/vfio-workbench.js"); return (${scenario.toString()})(vw); })()`)) as string;
    const inNode = await scenario(lib);
    expect(JSON.parse(inPage)).toMatchObject({ ok: true, backend: "emu" });
    // the page has no native backend, and says why
    const native = await page.evaluate(`import("/vfio-workbench.js").then((vw) => vw.nativeBackendStatus())`);
    expect(native).toEqual({ available: false, reason: "the native backend needs Node.js and a Linux host's /dev/vfio; in a browser page only the emulator runs" });
    expect(inPage).toBe(inNode);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
