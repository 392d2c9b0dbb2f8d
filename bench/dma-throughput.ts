/**
 * dma-throughput: 1 GiB of 64 KiB device writes through the DMA engine (bus-master check,
 * IOMMU translation with IOTLB, dirty tracking on, guest memory), as four sequential passes
 * over a 256 MiB buffer already touched once. Baseline: Buffer.copy of the same 64 KiB
 * chunks into a 256 MiB Buffer, also touched once. Target: ratio <= 2.5.
 * Also reported: the same run with the buffer mapped by 4 KiB IO pages instead of 2 MiB.
 */
import { Buffer } from "node:buffer";
import { DmaEngine } from "../hw-emu/hw/dma.js";
import { Iommu, PAGE_4K, PERM_RW, requesterId } from "../hw-emu/hw/iommu.js";
import { GuestMemory } from "../hw-emu/hw/memory.js";
import { Random } from "../hw-emu/sim/random.js";
import { bestOf, round3 } from "./timing.js";
import type { Benchmark, BenchResult } from "./types.js";

const CHUNK = 64 * 1024;
const RID = requesterId(1, 0, 0);

/** A machine with one device whose buffer is mapped; returns a pass function and a final check. */
function dmaMachine(region: number, src: Uint8Array, pageSize?: number): { pass: (bytes: number) => void; verify: (expectedLogged: number) => void } {
  const memory = new GuestMemory({ size: 2 ** 40 });
  const iommu = new Iommu();
  const dma = new DmaEngine({ memory, iommu });
  const domain = iommu.createDomain();
  iommu.attach(RID, domain);
  const iovaBase = 2 ** 32;
  const gpaBase = 2 ** 34;
  domain.map(iovaBase, gpaBase, region, PERM_RW, pageSize === undefined ? {} : { pageSize });
  domain.setDirtyTracking(true);
  let logged = 0;
  const port = dma.connect(RID, { busMasterEnabled: () => true, onWrite: (_iova, len) => (logged += len) });
  const pass = (bytes: number) => {
    for (let off = 0; off < bytes; off += CHUNK) {
      if (port.write(iovaBase + (off % region), src) !== "ok") throw new Error("dma-throughput: DMA write failed");
    }
  };
  const verify = (expectedLogged: number) => {
    const check = memory.read(gpaBase + region - CHUNK, CHUNK);
    if (Buffer.compare(check, src) !== 0) throw new Error("dma-throughput: guest memory does not hold the written data");
    const bits = new Uint32Array(region / PAGE_4K / 32);
    domain.readDirty(iovaBase, region, PAGE_4K, bits);
    if (!bits.every((w) => w === 0xffffffff)) throw new Error("dma-throughput: not every written page is dirty");
    if (logged !== expectedLogged) throw new Error("dma-throughput: device DMA log missed writes");
  };
  return { pass, verify };
}

export const dmaThroughput: Benchmark = {
  name: "dma-throughput",
  description: "1 GiB of 64 KiB DMA writes through IOMMU translation with dirty tracking, vs Buffer.copy of the same bytes",
  async run({ quick }): Promise<BenchResult> {
    const region = quick ? 16 * 2 ** 20 : 256 * 2 ** 20;
    const total = quick ? 64 * 2 ** 20 : 2 ** 30;
    const reps = quick ? 1 : 5;
    const src = new Random(0xd3a).bytes(new Uint8Array(CHUNK));

    const huge = dmaMachine(region, src);
    const small = dmaMachine(region, src, PAGE_4K);
    const srcBuf = Buffer.from(src.buffer, src.byteOffset, src.byteLength);
    const dst = Buffer.alloc(region);
    const copy = (bytes: number) => {
      for (let off = 0; off < bytes; off += CHUNK) srcBuf.copy(dst, off % region);
    };
    // first touch of every buffer (allocation) is not part of the measurement
    huge.pass(region);
    small.pass(region);
    copy(region);
    // interleaved repetitions, so a noisy neighbour slows both sides alike; best of each
    let projectMs = Infinity;
    let project4kMs = Infinity;
    let baselineMs = Infinity;
    for (let r = 0; r < reps; r++) {
      projectMs = Math.min(projectMs, bestOf(1, () => huge.pass(total)));
      project4kMs = Math.min(project4kMs, bestOf(1, () => small.pass(total)));
      baselineMs = Math.min(baselineMs, bestOf(1, () => copy(total)));
    }
    huge.verify(region + reps * total);
    small.verify(region + reps * total);

    const ratio = projectMs / baselineMs;
    return {
      name: "dma-throughput",
      ratio: round3(ratio),
      target: "ratio <= 2.5",
      ok: ratio <= 2.5,
      project_ms: round3(projectMs),
      baseline_ms: round3(baselineMs),
      project_gb_s: round3(total / projectMs / 1e6),
      baseline_gb_s: round3(total / baselineMs / 1e6),
      project_4k_mappings_ms: round3(project4kMs),
      ratio_4k_mappings: round3(project4kMs / baselineMs),
      bytes: total,
      write_size: CHUNK,
      quick,
    };
  },
};
