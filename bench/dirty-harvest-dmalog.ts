/**
 * dirty-harvest-dmalog: the dirty-harvest workload through device DMA logging.
 * VFIO_DEVICE_FEATURE(DMA_LOGGING_REPORT) over a 1 TiB logged range at 4 KiB pages with 1% of
 * pages dirty, scattered (seeded), on an emulated machine's NIC: the caller's bitmap is zeroed
 * before each call, as a real caller's is, and the pages are re-recorded in the NIC's own log
 * (lab side, not 2.6 M DMA writes) between calls. Baseline: one plain summing pass over the
 * 32 MiB bitmap as a Uint32Array. Target: ratio <= 2.
 * Also reported: the library call DmaLogging.report(), which allocates its own bitmap each time.
 */
import { PageDirtyLog } from "../hw-emu/hw/devices/dma-log.js";
import { vfio_device_feature_dma_logging_report } from "../hw-emu/uapi/index.js";
import { featureCall } from "../kernel-lib/vfio/feature.js";
import { PAGE, baselineMs, countSetBits, harvestRig, holdsExactly, scatteredPages } from "./harvest-rig.js";
import type { DirtyBitmap } from "../kernel-lib/vfio/bitmap.js";
import { bestOf, round3 } from "./timing.js";
import type { Benchmark, BenchResult } from "./types.js";

export const dirtyHarvestDmaLog: Benchmark = {
  name: "dirty-harvest-dmalog",
  description: "VFIO DMA_LOGGING_REPORT over a 1 TiB logged range at 4 KiB pages, 1% scattered dirty, vs one pass over the 32 MiB bitmap",
  async run({ quick }): Promise<BenchResult> {
    const range = quick ? 2 ** 34 : 2 ** 40;
    // best of 11: the hosts are shared and noisy (anchors §3.2)
    const reps = quick ? 2 : 11;
    const rig = harvestRig(range);
    const { sys, device, bitmap } = rig;
    const logging = device.dmaLogging;
    if (!logging) throw new Error("dirty-harvest-dmalog: the NIC does not offer DMA logging");
    const granule = logging.start([{ iova: 0n, length: BigInt(range) }], PAGE);
    if (granule !== PAGE) throw new Error(`dirty-harvest-dmalog: the NIC chose a ${granule}-byte log page, not ${PAGE}`);
    const log = rig.machine.devices[0]!.model.dmaLog;
    if (!(log instanceof PageDirtyLog)) throw new Error("dirty-harvest-dmalog: the NIC's log is not a page log");
    const dirty = scatteredPages(rig.pages);
    const mark = () => {
      for (let i = 0; i < dirty.length; i++) log.record(dirty[i]! * PAGE, PAGE);
    };
    const payload = vfio_device_feature_dma_logging_report.encode({ iova: 0n, length: BigInt(range), page_size: BigInt(PAGE), bitmap: sys.addressOf(bitmap) });
    const harvest = () => featureCall(sys, device.fd, "DMA_LOGGING_REPORT", "get", payload);

    const projectMs = bestOf(reps, harvest, () => {
      bitmap.fill(0);
      mark();
    });
    if (!holdsExactly(bitmap, dirty)) throw new Error(`dirty-harvest-dmalog: reported ${countSetBits(bitmap)} dirty pages, expected exactly the ${dirty.length} recorded`);
    bitmap.fill(0);
    harvest();
    if (countSetBits(bitmap) !== 0) throw new Error("dirty-harvest-dmalog: bits survived a report");

    // what a notebook cell pays: the library allocates (zeroed) and registers a fresh bitmap per call
    let last: DirtyBitmap | null = null;
    const libraryMs = bestOf(quick ? 1 : 3, () => (last = logging.report(0n, BigInt(range))), mark);
    const libraryCount = last === null ? 0 : (last as DirtyBitmap).count();
    if (libraryCount !== dirty.length) throw new Error(`dirty-harvest-dmalog: the library call reported ${libraryCount} pages, expected ${dirty.length}`);
    logging.stop();

    const baseMs = baselineMs(bitmap, reps);
    const ratio = projectMs / baseMs;
    return {
      name: "dirty-harvest-dmalog",
      ratio: round3(ratio),
      target: "ratio <= 2",
      ok: ratio <= 2,
      project_ms: round3(projectMs),
      baseline_ms: round3(baseMs),
      library_call_ms: round3(libraryMs),
      iova_range_gib: range / 2 ** 30,
      bitmap_mib: bitmap.byteLength / 2 ** 20,
      dirty_pages: dirty.length,
      quick,
    };
  },
};
