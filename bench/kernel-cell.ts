import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { KernelClient } from "../kernel-lib/kernel/client.js";
import { packageInfo } from "../kernel-lib/kernel/package-root.js";
import { round3 } from "./timing.js";
import type { Benchmark, BenchResult } from "./types.js";

/**
 * Round trip of a trivial cell (`1+1`) through the kernel over ZeroMQ (execute_request until
 * execute_reply and the idle status have arrived), against tslab's converter and executor
 * running the same cell directly in this process. The two are measured alternately so that
 * load from other processes hits both alike.
 *
 * A third measurement, in the same rounds, sets the kernel's overhead against the least any
 * Jupyter kernel can cost here: the same messages exchanged with a peer that runs no code and
 * only busy-waits as long as the cell took in tslab (jupyter-floor-peer.ts). The target is the
 * issue's; the floor says how much of the gap is ZeroMQ and the message format themselves.
 */

const CELL = "1+1";
const TARGET = 1.2;

type TslabExecutor = { execute(src: string): Promise<boolean>; close(): void };

function tslabAlone(): TslabExecutor {
  const require = createRequire(import.meta.url);
  const { createConverter } = require("tslab/dist/converter") as typeof import("tslab/dist/converter.js");
  const { createExecutor } = require("tslab/dist/executor") as typeof import("tslab/dist/executor.js");
  const node = createConverter({ isJS: false, isBrowser: false });
  const silent = { log: () => undefined, error: () => undefined };
  return createExecutor(process.cwd(), { node, browser: node, close: () => node.close() }, silent);
}

/** The compiled peer: next to this module in dist/, or dist's copy when this module runs from sources (tests). */
function floorPeerPath(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = join(dirname(here), "jupyter-floor-peer.js");
  if (here.endsWith(".js") && existsSync(sibling)) return sibling;
  const built = join(packageInfo().root, "dist", "bench", "jupyter-floor-peer.js");
  if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build`);
  return built;
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export const kernelCell: Benchmark = {
  name: "kernel-cell",
  description: "median round trip of a `1+1` cell through the kernel over ZeroMQ vs tslab's converter+executor in-process (with the ZeroMQ floor: a peer that runs no code)",
  async run({ quick }): Promise<BenchResult> {
    const warmup = quick ? 3 : 30;
    const rounds = quick ? 10 : 300;
    const direct = tslabAlone();
    const client = await KernelClient.start({ cwd: process.cwd() });
    let floor: KernelClient | undefined;
    try {
      floor = await KernelClient.start({ launcher: floorPeerPath() });
      const viaKernel: number[] = [];
      const alone: number[] = [];
      const viaFloor: number[] = [];
      for (let i = 0; i < warmup + rounds; i++) {
        let t0 = performance.now();
        if (!(await direct.execute(CELL))) throw new Error(`tslab failed to run ${CELL}`);
        const a = performance.now() - t0;
        t0 = performance.now();
        const { reply } = await client.execute(CELL);
        const k = performance.now() - t0;
        if (reply.content.status !== "ok") throw new Error(`the kernel failed to run ${CELL}: ${JSON.stringify(reply.content)}`);
        t0 = performance.now();
        await floor.execute(String(a));
        const f = performance.now() - t0;
        if (i >= warmup) {
          alone.push(a);
          viaKernel.push(k);
          // the peer's wait stands for the cell's run, so what is left over is the floor's overhead
          viaFloor.push(f - a);
        }
      }
      const kernelMs = median(viaKernel);
      const baselineMs = median(alone);
      const floorOverheadMs = median(viaFloor);
      const ratio = kernelMs / baselineMs;
      return {
        name: "kernel-cell",
        ratio: round3(ratio),
        target: `ratio <= ${TARGET}`,
        ok: ratio <= TARGET,
        rounds,
        kernel_median_ms: round3(kernelMs),
        baseline_median_ms: round3(baselineMs),
        kernel_p90_ms: round3(percentile(viaKernel, 0.9)),
        baseline_p90_ms: round3(percentile(alone, 0.9)),
        overhead_ms: round3(kernelMs - baselineMs),
        floor_overhead_ms: round3(floorOverheadMs),
        floor_ratio: round3((baselineMs + floorOverheadMs) / baselineMs),
      };
    } finally {
      direct.close();
      await floor?.close(); // the peer has no control channel to ask it to shut down
      await client.shutdown();
    }
  },
};
