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
import { PAGE, harvestRig, measureHarvest, scatteredPages } from "./harvest-rig.js";
import type { Benchmark, BenchResult } from "./types.js";

export const dirtyHarvestDmaLog: Benchmark = {
  name: "dirty-harvest-dmalog",
  description: "VFIO DMA_LOGGING_REPORT over a 1 TiB logged range at 4 KiB pages, 1% scattered dirty, vs one pass over the 32 MiB bitmap",
  async run({ quick }): Promise<BenchResult> {
    const range = quick ? 2 ** 34 : 2 ** 40;
    const rig = harvestRig(range);
    const { sys, device, bitmap } = rig;
    const logging = device.dmaLogging;
    if (!logging) throw new Error("dirty-harvest-dmalog: the NIC does not offer DMA logging");
    const granule = logging.start([{ iova: 0n, length: BigInt(range) }], PAGE);
    if (granule !== PAGE) throw new Error(`dirty-harvest-dmalog: the NIC chose a ${granule}-byte log page, not ${PAGE}`);
    const log = rig.machine.devices[0]!.model.dmaLog;
    if (!(log instanceof PageDirtyLog)) throw new Error("dirty-harvest-dmalog: the NIC's log is not a page log");
    const dirty = scatteredPages(rig.pages);
    const payload = vfio_device_feature_dma_logging_report.encode({ iova: 0n, length: BigInt(range), page_size: BigInt(PAGE), bitmap: sys.addressOf(bitmap) });
    try {
      return measureHarvest({
        name: "dirty-harvest-dmalog",
        quick,
        rig,
        dirty,
        mark: () => {
          for (let i = 0; i < dirty.length; i++) log.record(dirty[i]! * PAGE, PAGE);
        },
        harvest: () => featureCall(sys, device.fd, "DMA_LOGGING_REPORT", "get", payload),
        libraryCall: () => logging.report(0n, BigInt(range)),
      });
    } finally {
      logging.stop();
    }
  },
};
