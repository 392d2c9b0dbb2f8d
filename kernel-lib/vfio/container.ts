/** The legacy VFIO path: a container with the type1v2 IOMMU and the groups in it. */
import {
  IOCTL,
  VFIO_DMA_MAP_FLAG,
  VFIO_DMA_UNMAP_FLAG,
  VFIO_EXTENSION,
  VFIO_GROUP_FLAGS,
  VFIO_IOMMU_DIRTY_PAGES_FLAG,
  VFIO_IOMMU_TYPE1_INFO_CAP,
  parseCapChain,
  vfio_bitmap,
  vfio_group_status,
  vfio_iommu_type1_dirty_bitmap,
  vfio_iommu_type1_dirty_bitmap_get,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
  vfio_iommu_type1_info_cap_iova_range,
  vfio_iommu_type1_info_cap_migration,
  vfio_iova_range,
  type Syscalls,
} from "../../hw-emu/uapi/index.js";
import { DirtyBitmap } from "./bitmap.js";
import { sys } from "./errors.js";
import { intIoctl, structIoctl } from "./ioctl.js";
import { Device, type DeviceOpenOptions } from "./device.js";

export interface Type1Info {
  iovaPageSizes: bigint;
  iovaRanges: { start: bigint; end: bigint }[];
  /** present when the container can track dirty pages */
  migration: { pageSizes: bigint; maxDirtyBitmapSize: bigint } | null;
}

export class Container {
  private constructor(
    readonly sys: Syscalls,
    readonly fd: number,
  ) {}

  static open(s: Syscalls): Container {
    return new Container(s, sys("open /dev/vfio/vfio", () => s.open("/dev/vfio/vfio")));
  }

  apiVersion(): number {
    return intIoctl(this.sys, this.fd, "VFIO_GET_API_VERSION");
  }

  checkExtension(ext: number): number {
    return intIoctl(this.sys, this.fd, "VFIO_CHECK_EXTENSION", ext);
  }

  setIommu(type: number = VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU): void {
    intIoctl(this.sys, this.fd, "VFIO_SET_IOMMU", type);
  }

  /** IOMMU_GET_INFO with its capability chain (asks twice when the chain needs a bigger buffer). */
  info(): Type1Info {
    let { out, buf } = structIoctl(this.sys, this.fd, "VFIO_IOMMU_GET_INFO", vfio_iommu_type1_info, {});
    if (out.argsz > buf.byteLength) ({ out, buf } = structIoctl(this.sys, this.fd, "VFIO_IOMMU_GET_INFO", vfio_iommu_type1_info, { argsz: out.argsz }, { totalSize: out.argsz }));
    const caps = out.cap_offset ? parseCapChain(buf, out.cap_offset) : [];
    const info: Type1Info = { iovaPageSizes: out.iova_pgsizes, iovaRanges: [], migration: null };
    for (const c of caps) {
      if (c.id === VFIO_IOMMU_TYPE1_INFO_CAP.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
        const cap = vfio_iommu_type1_info_cap_iova_range.decode(buf, c.offset);
        for (let i = 0; i < cap.nr_iovas; i++) {
          const r = vfio_iova_range.decode(buf, c.offset + vfio_iommu_type1_info_cap_iova_range.size + i * vfio_iova_range.size);
          info.iovaRanges.push({ start: r.start, end: r.end });
        }
      } else if (c.id === VFIO_IOMMU_TYPE1_INFO_CAP.VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
        const cap = vfio_iommu_type1_info_cap_migration.decode(buf, c.offset);
        info.migration = { pageSizes: cap.pgsize_bitmap, maxDirtyBitmapSize: cap.max_dirty_bitmap_size };
      }
    }
    return info;
  }

  mapDma(m: { vaddr: bigint; iova: bigint; size: bigint; read?: boolean; write?: boolean }): void {
    const flags = (m.read !== false ? VFIO_DMA_MAP_FLAG.bits.READ : 0) | (m.write !== false ? VFIO_DMA_MAP_FLAG.bits.WRITE : 0);
    structIoctl(this.sys, this.fd, "VFIO_IOMMU_MAP_DMA", vfio_iommu_type1_dma_map, { flags, vaddr: m.vaddr, iova: m.iova, size: m.size });
  }

  /** Unmap; with `dirtyPageSize` also returns the range's dirty bitmap (tracking must be on). Returns bytes unmapped. */
  unmapDma(iova: bigint, size: bigint, options: { dirtyPageSize?: number } = {}): { unmapped: bigint; dirty: DirtyBitmap | null } {
    if (options.dirtyPageSize === undefined) {
      const { out } = structIoctl(this.sys, this.fd, "VFIO_IOMMU_UNMAP_DMA", vfio_iommu_type1_dma_unmap, { iova, size });
      return { unmapped: out.size, dirty: null };
    }
    const bm = DirtyBitmap.empty(iova, size, options.dirtyPageSize);
    const tail = vfio_bitmap.encode({ pgsize: BigInt(bm.pageSize), size: BigInt(bm.bytes.byteLength), data: this.sys.addressOf(bm.bytes) });
    const { out } = structIoctl(this.sys, this.fd, "VFIO_IOMMU_UNMAP_DMA", vfio_iommu_type1_dma_unmap, { flags: VFIO_DMA_UNMAP_FLAG.bits.GET_DIRTY_BITMAP, iova, size }, { tail });
    return { unmapped: out.size, dirty: bm };
  }

  unmapAll(): bigint {
    return structIoctl(this.sys, this.fd, "VFIO_IOMMU_UNMAP_DMA", vfio_iommu_type1_dma_unmap, { flags: VFIO_DMA_UNMAP_FLAG.bits.ALL }).out.size;
  }

  startDirtyTracking(): void {
    structIoctl(this.sys, this.fd, "VFIO_IOMMU_DIRTY_PAGES", vfio_iommu_type1_dirty_bitmap, { flags: VFIO_IOMMU_DIRTY_PAGES_FLAG.bits.START });
  }

  stopDirtyTracking(): void {
    structIoctl(this.sys, this.fd, "VFIO_IOMMU_DIRTY_PAGES", vfio_iommu_type1_dirty_bitmap, { flags: VFIO_IOMMU_DIRTY_PAGES_FLAG.bits.STOP });
  }

  /** DIRTY_PAGES GET_BITMAP for [iova, iova+size) at the IOMMU's smallest page size. */
  dirtyBitmap(iova: bigint, size: bigint, pageSize = 4096): DirtyBitmap {
    const bm = DirtyBitmap.empty(iova, size, pageSize);
    const tail = vfio_iommu_type1_dirty_bitmap_get.encode({
      iova,
      size,
      "bitmap.pgsize": BigInt(pageSize),
      "bitmap.size": BigInt(bm.bytes.byteLength),
      "bitmap.data": this.sys.addressOf(bm.bytes),
    });
    structIoctl(this.sys, this.fd, "VFIO_IOMMU_DIRTY_PAGES", vfio_iommu_type1_dirty_bitmap, { flags: VFIO_IOMMU_DIRTY_PAGES_FLAG.bits.GET_BITMAP }, { tail });
    return bm;
  }

  close(): void {
    sys("close", () => this.sys.close(this.fd));
  }
}

export class Group {
  private constructor(
    readonly sys: Syscalls,
    readonly fd: number,
    readonly id: number,
  ) {}

  static open(s: Syscalls, id: number): Group {
    return new Group(s, sys(`open /dev/vfio/${id}`, () => s.open(`/dev/vfio/${id}`)), id);
  }

  status(): { viable: boolean; containerSet: boolean } {
    const { out } = structIoctl(this.sys, this.fd, "VFIO_GROUP_GET_STATUS", vfio_group_status, {});
    return { viable: (out.flags & VFIO_GROUP_FLAGS.bits.VIABLE) !== 0, containerSet: (out.flags & VFIO_GROUP_FLAGS.bits.CONTAINER_SET) !== 0 };
  }

  setContainer(c: Container): void {
    const arg = new Uint8Array(4);
    new DataView(arg.buffer).setInt32(0, c.fd, true);
    sys("VFIO_GROUP_SET_CONTAINER", () => this.sys.ioctl(this.fd, IOCTL.VFIO_GROUP_SET_CONTAINER, arg));
  }

  unsetContainer(): void {
    intIoctl(this.sys, this.fd, "VFIO_GROUP_UNSET_CONTAINER");
  }

  /** GROUP_GET_DEVICE_FD by name (a PCI address, or an mdev UUID), with an optional VF token. */
  device(name: string, options: DeviceOpenOptions & { vfToken?: string } = {}): Device {
    const text = options.vfToken ? `${name} vf_token=${options.vfToken}` : name;
    const arg = new TextEncoder().encode(text + "\0");
    const fd = sys("VFIO_GROUP_GET_DEVICE_FD", () => this.sys.ioctl(this.fd, IOCTL.VFIO_GROUP_GET_DEVICE_FD, arg));
    return new Device(this.sys, fd, name, options);
  }

  close(): void {
    sys("close", () => this.sys.close(this.fd));
  }
}
