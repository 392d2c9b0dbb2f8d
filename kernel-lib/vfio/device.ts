/** A VFIO device fd: info, regions, interrupts, reset, and its migration and DMA-logging features. */
import {
  IOCTL,
  MMAP,
  VFIO_DEVICE_FLAGS,
  VFIO_IRQ_INFO,
  VFIO_IRQ_SET,
  VFIO_PCI_REGION,
  VFIO_REGION_INFO_CAP,
  VFIO_REGION_INFO_FLAG,
  parseCapChain,
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_detach_iommufd_pt,
  vfio_device_info,
  vfio_irq_info,
  vfio_irq_set,
  vfio_region_info,
  vfio_region_info_cap_sparse_mmap,
  vfio_region_info_cap_type,
  vfio_region_sparse_mmap_area,
  type Mapping,
  type Syscalls,
} from "../../hw-emu/uapi/index.js";
import { sys } from "./errors.js";
import { structIoctl } from "./ioctl.js";
import { DmaLogging } from "./dma-logging.js";
import { Migration } from "./migration.js";

export interface DeviceOpenOptions {
  /** how the device was named, for messages */
  label?: string;
}

export interface RegionInfo {
  index: number;
  size: bigint;
  offset: bigint;
  readable: boolean;
  writable: boolean;
  mmappable: boolean;
  /** VFIO_REGION_INFO_CAP_TYPE, for device-specific regions */
  type: { type: number; subtype: number } | null;
  sparseMmap: { offset: bigint; size: bigint }[] | null;
  msixMappable: boolean;
}

export interface IrqInfo {
  index: number;
  count: number;
  eventfd: boolean;
  maskable: boolean;
  automasked: boolean;
  noresize: boolean;
}

export class Region {
  constructor(
    private readonly dev: Device,
    readonly info: RegionInfo,
  ) {}

  read(offset: number, length: number): Uint8Array {
    const buf = new Uint8Array(length);
    const n = sys("pread", () => this.dev.sys.pread(this.dev.fd, buf, this.info.offset + BigInt(offset)));
    return buf.subarray(0, n);
  }

  write(offset: number, bytes: Uint8Array): number {
    return sys("pwrite", () => this.dev.sys.pwrite(this.dev.fd, bytes, this.info.offset + BigInt(offset)));
  }

  readU32(offset: number): number {
    return new DataView(this.read(offset, 4).buffer).getUint32(0, true);
  }

  writeU32(offset: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.write(offset, b);
  }

  mmap(length = Number(this.info.size), offset = 0): Mapping {
    return sys("mmap", () => this.dev.sys.mmap(this.dev.fd, length, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_SHARED, this.info.offset + BigInt(offset)));
  }
}

export class Device {
  /** present when the device advertises VFIO_DEVICE_FEATURE_MIGRATION */
  readonly migration: Migration | null;
  readonly dmaLogging: DmaLogging | null;

  constructor(
    readonly sys: Syscalls,
    readonly fd: number,
    readonly name: string,
    options: DeviceOpenOptions = {},
    /** a cdev fd is usable only after bind(): the features are probed then */
    probe = true,
  ) {
    void options;
    this.migration = probe ? Migration.probe(this) : null;
    this.dmaLogging = probe ? DmaLogging.probe(this) : null;
  }

  /** Open /dev/vfio/devices/vfioN; call bind() and attach() before anything else. */
  static openCdev(s: Syscalls, path: string): UnboundDevice {
    const fd = sys(`open ${path}`, () => s.open(path));
    return new UnboundDevice(s, fd, path);
  }

  info(): { flags: number; numRegions: number; numIrqs: number; pci: boolean; reset: boolean } {
    const { out } = structIoctl(this.sys, this.fd, "VFIO_DEVICE_GET_INFO", vfio_device_info, {});
    return {
      flags: out.flags,
      numRegions: out.num_regions,
      numIrqs: out.num_irqs,
      pci: (out.flags & VFIO_DEVICE_FLAGS.bits.PCI) !== 0,
      reset: (out.flags & VFIO_DEVICE_FLAGS.bits.RESET) !== 0,
    };
  }

  /** GET_REGION_INFO, retrying with the size the kernel asks for when there is a capability chain. */
  regionInfo(index: number): RegionInfo {
    let { out, buf } = structIoctl(this.sys, this.fd, "VFIO_DEVICE_GET_REGION_INFO", vfio_region_info, { index });
    if (out.argsz > buf.byteLength) {
      ({ out, buf } = structIoctl(this.sys, this.fd, "VFIO_DEVICE_GET_REGION_INFO", vfio_region_info, { index, argsz: out.argsz }, { totalSize: out.argsz }));
    }
    const info: RegionInfo = {
      index,
      size: out.size,
      offset: out.offset,
      readable: (out.flags & VFIO_REGION_INFO_FLAG.bits.READ) !== 0,
      writable: (out.flags & VFIO_REGION_INFO_FLAG.bits.WRITE) !== 0,
      mmappable: (out.flags & VFIO_REGION_INFO_FLAG.bits.MMAP) !== 0,
      type: null,
      sparseMmap: null,
      msixMappable: false,
    };
    if (out.flags & VFIO_REGION_INFO_FLAG.bits.CAPS && out.cap_offset) {
      for (const c of parseCapChain(buf, out.cap_offset)) {
        if (c.id === VFIO_REGION_INFO_CAP.values.TYPE) {
          const t = vfio_region_info_cap_type.decode(buf, c.offset);
          info.type = { type: t.type, subtype: t.subtype };
        } else if (c.id === VFIO_REGION_INFO_CAP.values.SPARSE_MMAP) {
          const sm = vfio_region_info_cap_sparse_mmap.decode(buf, c.offset);
          info.sparseMmap = [];
          for (let i = 0; i < sm.nr_areas; i++) {
            const a = vfio_region_sparse_mmap_area.decode(buf, c.offset + vfio_region_info_cap_sparse_mmap.size + i * vfio_region_sparse_mmap_area.size);
            info.sparseMmap.push({ offset: a.offset, size: a.size });
          }
        } else if (c.id === VFIO_REGION_INFO_CAP.values.MSIX_MAPPABLE) {
          info.msixMappable = true;
        }
      }
    }
    return info;
  }

  region(index: number): Region {
    return new Region(this, this.regionInfo(index));
  }

  /** PCI config space (region 7) */
  get config(): Region {
    return this.region(VFIO_PCI_REGION.VFIO_PCI_CONFIG_REGION_INDEX);
  }

  irqInfo(index: number): IrqInfo {
    const { out } = structIoctl(this.sys, this.fd, "VFIO_DEVICE_GET_IRQ_INFO", vfio_irq_info, { index });
    return {
      index,
      count: out.count,
      eventfd: (out.flags & VFIO_IRQ_INFO.bits.EVENTFD) !== 0,
      maskable: (out.flags & VFIO_IRQ_INFO.bits.MASKABLE) !== 0,
      automasked: (out.flags & VFIO_IRQ_INFO.bits.AUTOMASKED) !== 0,
      noresize: (out.flags & VFIO_IRQ_INFO.bits.NORESIZE) !== 0,
    };
  }

  /**
   * SET_IRQS(DATA_EVENTFD | ACTION_TRIGGER): install eventfds for vectors
   * start..start+n-1 (-1 tears a vector down). Returns the ioctl's value: a
   * positive number means only that many vectors could be allocated.
   */
  setIrqEventfds(index: number, start: number, fds: readonly number[]): number {
    const data = new Uint8Array(fds.length * 4);
    const view = new DataView(data.buffer);
    fds.forEach((fd, i) => view.setInt32(i * 4, fd, true));
    return structIoctl(this.sys, this.fd, "VFIO_DEVICE_SET_IRQS", vfio_irq_set, {
      flags: VFIO_IRQ_SET.bits.DATA_EVENTFD | VFIO_IRQ_SET.bits.ACTION_TRIGGER,
      index,
      start,
      count: fds.length,
    }, { tail: data }).ret;
  }

  /** Disable every vector of an interrupt index (count 0, DATA_NONE, TRIGGER). */
  disableIrqs(index: number): void {
    structIoctl(this.sys, this.fd, "VFIO_DEVICE_SET_IRQS", vfio_irq_set, { flags: VFIO_IRQ_SET.bits.DATA_NONE | VFIO_IRQ_SET.bits.ACTION_TRIGGER, index, start: 0, count: 0 });
  }

  /** A SET_IRQS with no data (mask, unmask or loopback trigger) for vectors start..start+count-1. */
  irqAction(index: number, action: "mask" | "unmask" | "trigger", start = 0, count = 1): void {
    const a = { mask: VFIO_IRQ_SET.bits.ACTION_MASK, unmask: VFIO_IRQ_SET.bits.ACTION_UNMASK, trigger: VFIO_IRQ_SET.bits.ACTION_TRIGGER }[action];
    structIoctl(this.sys, this.fd, "VFIO_DEVICE_SET_IRQS", vfio_irq_set, { flags: VFIO_IRQ_SET.bits.DATA_NONE | a, index, start, count });
  }

  reset(): void {
    sys("VFIO_DEVICE_RESET", () => this.sys.ioctl(this.fd, IOCTL.VFIO_DEVICE_RESET));
  }

  close(): void {
    sys("close", () => this.sys.close(this.fd));
  }
}

/** A device cdev before VFIO_DEVICE_BIND_IOMMUFD: only bind() is possible. */
export class UnboundDevice {
  constructor(
    readonly sys: Syscalls,
    readonly fd: number,
    readonly path: string,
  ) {}

  /** Bind to an iommufd; returns the bound device and its iommufd device id. */
  bind(iommufd: { fd: number }, options: { token?: Uint8Array } = {}): { device: CdevDevice; devId: number } {
    const flags = options.token ? 1 : 0;
    const { out } = structIoctl(this.sys, this.fd, "VFIO_DEVICE_BIND_IOMMUFD", vfio_device_bind_iommufd, {
      flags,
      iommufd: iommufd.fd,
      token_uuid_ptr: options.token ? this.sys.addressOf(options.token) : 0n,
    });
    return { device: new CdevDevice(this.sys, this.fd, this.path, out.out_devid), devId: out.out_devid };
  }

  close(): void {
    sys("close", () => this.sys.close(this.fd));
  }
}

export class CdevDevice extends Device {
  constructor(
    s: Syscalls,
    fd: number,
    name: string,
    readonly devId: number,
  ) {
    super(s, fd, name);
  }

  /** Attach to an IOAS (the kernel creates a HWPT without dirty tracking) or a HWPT; returns the HWPT id. */
  attach(ptId: number): number {
    return structIoctl(this.sys, this.fd, "VFIO_DEVICE_ATTACH_IOMMUFD_PT", vfio_device_attach_iommufd_pt, { pt_id: ptId }).out.pt_id;
  }

  detach(): void {
    structIoctl(this.sys, this.fd, "VFIO_DEVICE_DETACH_IOMMUFD_PT", vfio_device_detach_iommufd_pt, {});
  }
}
