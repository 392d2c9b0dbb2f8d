/**
 * live-cell: a trivial cell (`1+1`) run live in a page of Debian's chromium (the LiveRunner and its
 * worker against the emulator's browser build, as "Run live" runs it) against the same cell
 * through this package's Jupyter kernel (execute_request until the reply and status idle), both
 * warmed up, rounds interleaved. Ratio = page median / kernel median; target <= 1.0. Also the
 * gzipped size of what "Run live" loads besides the TypeScript compiler; target < 2 MB.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { KernelClient } from "../kernel-lib/kernel/client.js";
import { kernelLauncherPath } from "../kernel-lib/kernel/launcher-path.js";
import { packageInfo } from "../kernel-lib/kernel/package-root.js";
import { serveScripts } from "./script-server.js";
import { round3 } from "./timing.js";
import type { Benchmark, BenchResult } from "./types.js";

const CHROMIUM = "/usr/bin/chromium";
const CELL = "1+1";
const SIZE_TARGET_BYTES = 2 * 1024 * 1024;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Every file "Run live" may load but the compiler, gzipped. */
function liveBytesGzipped(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) total += liveBytesGzipped(path);
    else if (name.endsWith(".js")) total += gzipSync(readFileSync(path)).byteLength;
  }
  return total;
}

export const liveCell: Benchmark = {
  name: "live-cell",
  description: "a trivial cell run live in chromium over the same cell through the Jupyter kernel (median; target <= 1.0); the live code's gzipped size (target < 2 MB)",
  async run({ quick }): Promise<BenchResult> {
    if (!existsSync(CHROMIUM)) throw new Error(`live-cell: ${CHROMIUM} is not installed (apt-get install chromium)`);
    const root = packageInfo().root;
    const browserDir = join(root, "dist", "browser");
    if (!existsSync(join(browserDir, "live-runner.js"))) throw new Error(`live-cell: ${browserDir} has no live runner; run npm run build`);
    const typescript = createRequire(join(root, "package.json")).resolve("typescript");
    const rounds = quick ? 5 : 30;

    const server = await serveScripts({ dir: browserDir, extra: { "/typescript.js": typescript }, title: "live-cell" });
    const origin = server.origin;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const kernel = await KernelClient.start({ cwd: root, transport: "tcp", argv: [process.execPath, kernelLauncherPath(), "-f", "{connection_file}"] });
    try {
      const page = await browser.newPage();
      await page.goto(`${origin}/`);
      await page.evaluate(`import("/live-runner.js").then(({ LiveRunner }) => {
        const runner = new LiveRunner({ workerUrl: "/live-worker.js", typescriptUrl: "/typescript.js", libraryUrl: "/vfio-workbench.js" });
        globalThis.timeCell = async (code) => { const t0 = performance.now(); const r = await runner.run(code); if (!r.ok) throw new Error(JSON.stringify(r.outputs)); return performance.now() - t0; };
      })`);
      // warm-up: the compiler and the library load on the first cell, the kernel builds its converter
      await page.evaluate(`timeCell(${JSON.stringify(CELL)})`);
      await kernel.execute(CELL);
      const live: number[] = [];
      const jupyter: number[] = [];
      for (let i = 0; i < rounds; i++) {
        live.push((await page.evaluate(`timeCell(${JSON.stringify(CELL)})`)) as number);
        const t0 = performance.now();
        await kernel.execute(CELL);
        jupyter.push(performance.now() - t0);
      }
      const ratio = median(live) / median(jupyter);
      const bytes = liveBytesGzipped(browserDir);
      return {
        name: "live-cell",
        ratio: round3(ratio),
        target: "ratio <= 1.0; live code < 2 MB gzipped (the TypeScript compiler aside)",
        ok: ratio <= 1.0 && bytes < SIZE_TARGET_BYTES,
        rounds,
        live_ms: round3(median(live)),
        kernel_ms: round3(median(jupyter)),
        live_gzip_bytes: bytes,
        typescript_gzip_bytes: gzipSync(readFileSync(typescript)).byteLength,
        quick,
      };
    } finally {
      await kernel.shutdown();
      await browser.close();
      await server.close();
    }
  },
};
