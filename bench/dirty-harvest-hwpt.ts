/**
 * dirty-harvest-hwpt: the dirty-harvest workload through the uAPI. IOMMU_HWPT_GET_DIRTY_BITMAP
 * (read-and-clear) over a 1 TiB IOAS mapping at 4 KiB pages with 1% of pages dirty, scattered
 * (seeded), on an emulated machine: the caller's bitmap is zeroed before each call, as a real
 * caller's is, and the pages are re-marked in the IOMMU domain (lab side) between calls.
 * Baseline: one plain summing pass over the 32 MiB bitmap as a Uint32Array. Target: ratio <= 2.
 * Also reported: the library call Hwpt.dirtyBitmap(), which allocates its own bitmap each time.
 */
import { parseBdf } from "../hw-emu/hw/pci/address.js";
import { iommu_hwpt_get_dirty_bitmap } from "../hw-emu/uapi/index.js";
import { structIoctl } from "../kernel-lib/vfio/ioctl.js";
import { PAGE, baselineMs, countSetBits, harvestRig, holdsExactly, scatteredPages } from "./harvest-rig.js";
import type { DirtyBitmap } from "../kernel-lib/vfio/bitmap.js";
import { bestOf, round3 } from "./timing.js";
import type { Benchmark, BenchResult } from "./types.js";

export const dirtyHarvestHwpt: Benchmark = {
  name: "dirty-harvest-hwpt",
  description: "IOMMU_HWPT_GET_DIRTY_BITMAP over a 1 TiB IOAS mapping at 4 KiB pages, 1% scattered dirty, vs one pass over the 32 MiB bitmap",
  async run({ quick }): Promise<BenchResult> {
    const range = quick ? 2 ** 34 : 2 ** 40;
    // best of 11: the hosts are shared and noisy (anchors §3.2)
    const reps = quick ? 2 : 11;
    const rig = harvestRig(range);
    const { sys, iommufd, hwpt, bitmap } = rig;
    const domain = rig.machine.hw.iommu.domainOf(parseBdf(rig.machine.devices[0]!.address));
    if (!domain) throw new Error("dirty-harvest-hwpt: the NIC is not attached to an IOMMU domain");
    const dirty = scatteredPages(rig.pages);
    const mark = () => {
      for (let i = 0; i < dirty.length; i++) domain.markDirty(dirty[i]! * PAGE, PAGE);
    };
    const request = { hwpt_id: hwpt.id, flags: 0, iova: 0n, length: BigInt(range), page_size: BigInt(PAGE), data: sys.addressOf(bitmap) };
    const harvest = () => structIoctl(sys, iommufd.fd, "IOMMU_HWPT_GET_DIRTY_BITMAP", iommu_hwpt_get_dirty_bitmap, request);

    const projectMs = bestOf(reps, harvest, () => {
      bitmap.fill(0);
      mark();
    });
    if (!holdsExactly(bitmap, dirty)) throw new Error(`dirty-harvest-hwpt: reported ${countSetBits(bitmap)} dirty pages, expected exactly the ${dirty.length} marked`);
    bitmap.fill(0);
    harvest();
    if (countSetBits(bitmap) !== 0) throw new Error("dirty-harvest-hwpt: bits survived a read-and-clear");

    // what a notebook cell pays: the library allocates (zeroed) and registers a fresh bitmap per call
    let last: DirtyBitmap | null = null;
    const libraryMs = bestOf(quick ? 1 : 3, () => (last = hwpt.dirtyBitmap(0n, BigInt(range))), mark);
    const libraryCount = last === null ? 0 : (last as DirtyBitmap).count();
    if (libraryCount !== dirty.length) throw new Error(`dirty-harvest-hwpt: the library call reported ${libraryCount} pages, expected ${dirty.length}`);

    const baseMs = baselineMs(bitmap, reps);
    const ratio = projectMs / baseMs;
    return {
      name: "dirty-harvest-hwpt",
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
