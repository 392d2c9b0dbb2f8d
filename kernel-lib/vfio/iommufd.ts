/** The iommufd path: /dev/iommu, IO address spaces, hardware page tables and their dirty tracking. */
import {
  IOMMU_HW_CAP,
  IOMMU_HWPT_ALLOC_FLAG,
  IOMMU_HWPT_DIRTY_TRACKING,
  IOMMU_HWPT_GET_DIRTY_BITMAP,
  IOMMU_IOAS_MAP_FLAG,
  iommu_destroy,
  iommu_hw_info,
  iommu_hwpt_alloc,
  iommu_hwpt_get_dirty_bitmap,
  iommu_hwpt_set_dirty_tracking,
  iommu_ioas_alloc,
  iommu_ioas_iova_ranges,
  iommu_ioas_map,
  iommu_ioas_unmap,
  iommu_iova_range,
  type Syscalls,
} from "../../hw-emu/uapi/index.js";
import { DirtyBitmap } from "./bitmap.js";
import { VfioError, sys } from "./errors.js";
import { structIoctl } from "./ioctl.js";

export class Iommufd {
  private constructor(
    readonly sys: Syscalls,
    readonly fd: number,
  ) {}

  static open(s: Syscalls): Iommufd {
    return new Iommufd(s, sys("open /dev/iommu", () => s.open("/dev/iommu")));
  }

  allocIoas(): Ioas {
    const { out } = structIoctl(this.sys, this.fd, "IOMMU_IOAS_ALLOC", iommu_ioas_alloc, {});
    return new Ioas(this, out.out_ioas_id);
  }

  /** GET_HW_INFO for a bound device: does its IOMMU track dirty pages? */
  hwInfo(devId: number): { dataType: number; dirtyTracking: boolean; capabilities: bigint } {
    const { out } = structIoctl(this.sys, this.fd, "IOMMU_GET_HW_INFO", iommu_hw_info, { dev_id: devId });
    return { dataType: out.out_data_type, capabilities: out.out_capabilities, dirtyTracking: (out.out_capabilities & BigInt(IOMMU_HW_CAP.bits.DIRTY_TRACKING)) !== 0n };
  }

  /** HWPT_ALLOC of a paging HWPT over an IOAS, for the IOMMU behind `devId`. */
  allocHwpt(devId: number, ioas: Ioas, options: { dirtyTracking?: boolean } = {}): Hwpt {
    const flags = options.dirtyTracking ? IOMMU_HWPT_ALLOC_FLAG.bits.DIRTY_TRACKING : 0;
    const { out } = structIoctl(this.sys, this.fd, "IOMMU_HWPT_ALLOC", iommu_hwpt_alloc, { flags, dev_id: devId, pt_id: ioas.id });
    return new Hwpt(this, out.out_hwpt_id, options.dirtyTracking === true);
  }

  destroy(id: number): void {
    structIoctl(this.sys, this.fd, "IOMMU_DESTROY", iommu_destroy, { id });
  }

  close(): void {
    sys("close", () => this.sys.close(this.fd));
  }
}

export class Ioas {
  constructor(
    readonly ctx: Iommufd,
    readonly id: number,
  ) {}

  /** IOAS_MAP of user memory (an anonymous mmap); returns the IOVA (chosen by the kernel unless given). */
  map(m: { userVa: bigint; length: bigint; iova?: bigint; read?: boolean; write?: boolean }): bigint {
    const flags =
      (m.iova !== undefined ? IOMMU_IOAS_MAP_FLAG.bits.FIXED_IOVA : 0) |
      (m.read !== false ? IOMMU_IOAS_MAP_FLAG.bits.READABLE : 0) |
      (m.write !== false ? IOMMU_IOAS_MAP_FLAG.bits.WRITEABLE : 0);
    const { out } = structIoctl(this.ctx.sys, this.ctx.fd, "IOMMU_IOAS_MAP", iommu_ioas_map, { flags, ioas_id: this.id, user_va: m.userVa, length: m.length, iova: m.iova ?? 0n });
    return out.iova;
  }

  /** IOAS_UNMAP; returns the bytes unmapped. */
  unmap(iova: bigint, length: bigint): bigint {
    return structIoctl(this.ctx.sys, this.ctx.fd, "IOMMU_IOAS_UNMAP", iommu_ioas_unmap, { ioas_id: this.id, iova, length }).out.length;
  }

  /** The allowed IOVA ranges (asks again with a bigger array on EMSGSIZE). */
  ranges(): { ranges: { start: bigint; last: bigint }[]; alignment: bigint } {
    let n = 4;
    for (;;) {
      const arr = new Uint8Array(n * iommu_iova_range.size);
      try {
        const { out } = structIoctl(this.ctx.sys, this.ctx.fd, "IOMMU_IOAS_IOVA_RANGES", iommu_ioas_iova_ranges, {
          ioas_id: this.id,
          num_iovas: n,
          allowed_iovas: this.ctx.sys.addressOf(arr),
        });
        const ranges = Array.from({ length: out.num_iovas }, (_, i) => iommu_iova_range.decode(arr, i * iommu_iova_range.size));
        return { ranges, alignment: out.out_iova_alignment };
      } catch (e) {
        if (e instanceof VfioError && e.code === "EMSGSIZE" && n < 1 << 16) n *= 4;
        else throw e;
      }
    }
  }
}

export class Hwpt {
  constructor(
    readonly ctx: Iommufd,
    readonly id: number,
    /** allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING */
    readonly dirtyCapable: boolean,
  ) {}

  setDirtyTracking(enable: boolean): void {
    structIoctl(this.ctx.sys, this.ctx.fd, "IOMMU_HWPT_SET_DIRTY_TRACKING", iommu_hwpt_set_dirty_tracking, {
      flags: enable ? IOMMU_HWPT_DIRTY_TRACKING.bits.ENABLE : 0,
      hwpt_id: this.id,
    });
  }

  /** GET_DIRTY_BITMAP over [iova, iova+length); clears what it reads unless noClear. */
  dirtyBitmap(iova: bigint, length: bigint, pageSize = 4096, options: { noClear?: boolean } = {}): DirtyBitmap {
    const bm = DirtyBitmap.empty(iova, length, pageSize);
    structIoctl(this.ctx.sys, this.ctx.fd, "IOMMU_HWPT_GET_DIRTY_BITMAP", iommu_hwpt_get_dirty_bitmap, {
      hwpt_id: this.id,
      flags: options.noClear ? IOMMU_HWPT_GET_DIRTY_BITMAP.bits.NO_CLEAR : 0,
      iova,
      length,
      page_size: BigInt(pageSize),
      data: this.ctx.sys.addressOf(bm.bytes),
    });
    return bm;
  }
}
