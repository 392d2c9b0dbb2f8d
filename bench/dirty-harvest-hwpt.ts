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
import { PAGE, harvestRig, measureHarvest, scatteredPages } from "./harvest-rig.js";
import type { Benchmark, BenchResult } from "./types.js";

export const dirtyHarvestHwpt: Benchmark = {
  name: "dirty-harvest-hwpt",
  description: "IOMMU_HWPT_GET_DIRTY_BITMAP over a 1 TiB IOAS mapping at 4 KiB pages, 1% scattered dirty, vs one pass over the 32 MiB bitmap",
  async run({ quick }): Promise<BenchResult> {
    const range = quick ? 2 ** 34 : 2 ** 40;
    const rig = harvestRig(range);
    const { sys, iommufd, hwpt, bitmap } = rig;
    const domain = rig.machine.hw.iommu.domainOf(parseBdf(rig.machine.devices[0]!.address));
    if (!domain) throw new Error("dirty-harvest-hwpt: the NIC is not attached to an IOMMU domain");
    const dirty = scatteredPages(rig.pages);
    const request = { hwpt_id: hwpt.id, flags: 0, iova: 0n, length: BigInt(range), page_size: BigInt(PAGE), data: sys.addressOf(bitmap) };
    return measureHarvest({
      name: "dirty-harvest-hwpt",
      quick,
      rig,
      dirty,
      mark: () => {
        for (let i = 0; i < dirty.length; i++) domain.markDirty(dirty[i]! * PAGE, PAGE);
      },
      harvest: () => structIoctl(sys, iommufd.fd, "IOMMU_HWPT_GET_DIRTY_BITMAP", iommu_hwpt_get_dirty_bitmap, request),
      libraryCall: () => hwpt.dirtyBitmap(0n, BigInt(range)),
    });
  },
};
