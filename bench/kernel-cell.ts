import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { KernelClient } from "../kernel-lib/kernel/client.js";
import { compiledFile } from "../kernel-lib/kernel/package-root.js";
import { round3 } from "./timing.js";
import type { Benchmark, BenchResult } from "./types.js";
import { RawFloorClient } from "./zeromq-floor.js";

/**
 * Round trip of a trivial cell (`1+1`) through the kernel over ZeroMQ (execute_request until
 * execute_reply and the idle status have arrived), against tslab's converter and executor
 * running the same cell directly in this process. The two are measured alternately so that
 * load from other processes hits both alike.
 *
 * Two more measurements, in the same rounds, set the kernel's overhead against the least a
 * kernel can cost here. Both peers run no code and busy-wait as long as the cell took in tslab
 * (jupyter-floor-peer.ts): the Jupyter floor exchanges the same signed messages through this
 * package's client; the ZeroMQ floor sends the same bytes, prebuilt, and parses nothing
 * (zeromq-floor.ts). The target is the issue's; the floors say how much of the gap is the
 * message format and ZeroMQ themselves.
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

const FLOOR_PEER = "bench/jupyter-floor-peer.js";

function floorPeerPath(): string {
  const path = compiledFile(import.meta.url, FLOOR_PEER);
  if (!path) throw new Error(`dist/${FLOOR_PEER} is missing: run npm run build`);
  return path;
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

/** Time of `fn` in ms. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export const kernelCell: Benchmark = {
  name: "kernel-cell",
  description:
    "median round trip of a `1+1` cell through the kernel over ZeroMQ vs tslab's converter+executor in-process (with two floors: a Jupyter peer and a bare ZeroMQ peer that run no code)",
  async run({ quick }): Promise<BenchResult> {
    const warmup = quick ? 3 : 30;
    const rounds = quick ? 10 : 300;
    const direct = tslabAlone();
    const client = await KernelClient.start({ cwd: process.cwd() });
    let jupyterFloor: KernelClient | undefined;
    let zeromqFloor: RawFloorClient | undefined;
    try {
      jupyterFloor = await KernelClient.start({ launcher: floorPeerPath() });
      zeromqFloor = await RawFloorClient.start(floorPeerPath());
      const alone: number[] = [];
      const viaKernel: number[] = [];
      // The peers busy-wait as long as the cell took alone; what is left over is their overhead.
      const jupyterOverhead: number[] = [];
      const zeromqOverhead: number[] = [];
      for (let i = 0; i < warmup + rounds; i++) {
        let ok = true;
        const a = await timed(async () => (ok = await direct.execute(CELL)));
        if (!ok) throw new Error(`tslab failed to run ${CELL}`);
        let status: unknown;
        const k = await timed(async () => (status = (await client.execute(CELL)).reply.content.status));
        if (status !== "ok") throw new Error(`the kernel failed to run ${CELL} (status ${String(status)})`);
        const j = await timed(() => jupyterFloor!.execute(String(a)));
        const z = await timed(() => zeromqFloor!.roundTrip(a));
        if (i >= warmup) {
          alone.push(a);
          viaKernel.push(k);
          jupyterOverhead.push(j - a);
          zeromqOverhead.push(z - a);
        }
      }
      const kernelMs = median(viaKernel);
      const baselineMs = median(alone);
      const ratio = kernelMs / baselineMs;
      const floorRatio = (overheads: number[]) => round3((baselineMs + median(overheads)) / baselineMs);
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
        jupyter_floor_overhead_ms: round3(median(jupyterOverhead)),
        jupyter_floor_ratio: floorRatio(jupyterOverhead),
        zeromq_floor_overhead_ms: round3(median(zeromqOverhead)),
        zeromq_floor_ratio: floorRatio(zeromqOverhead),
      };
    } finally {
      direct.close();
      zeromqFloor?.close();
      await jupyterFloor?.close(); // the peer has no control channel to ask it to shut down
      await client.shutdown();
    }
  },
};
