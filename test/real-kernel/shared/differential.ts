/**
 * One scripted sequence of system calls against two serial mediated devices,
 * with good and bad arguments, recording what each call returned: its value
 * (an fd is recorded as "fd", since numbers differ between processes), or its
 * errno name, and the bytes or fields it wrote back. The same script runs
 * against the kernel's mtty sample in the guest and against the emulator's
 * serial model on the host; comparing the two records call by call shows
 * every place the emulator behaves differently.
 *
 * The script only reads what it records: no step's arguments depend on a value
 * the other side may legitimately choose differently (fd numbers, addresses).
 */
import {
  EFD,
  Errno,
  IOCTL,
  MMAP,
  POLL,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_FLAG,
  VFIO_DEVICE_STATE,
  VFIO_EXTENSION,
  VFIO_IRQ_SET,
  iommu_hw_info,
  iommu_ioas_alloc,
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_detach_iommufd_pt,
  vfio_device_feature,
  vfio_device_feature_mig_state,
  vfio_device_info,
  vfio_group_status,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
  vfio_irq_info,
  vfio_irq_set,
  vfio_precopy_info,
  vfio_region_info,
  type Mapping,
  type Syscalls,
} from "../../../hw-emu/uapi/index.js";

/** One serial mdev as the script reaches it. */
export interface DiffDevice {
  /** its IOMMU group number (/dev/vfio/N) */
  group: number;
  /** its name in the group: the mdev UUID */
  name: string;
  /** its VFIO cdev, /dev/vfio/devices/vfioN */
  cdev: string;
}

export interface DiffTarget {
  sys: Syscalls;
  /** two instances of the same type (two ports each): the save source and the resume destination */
  devices: readonly [DiffDevice, DiffDevice];
}

export type OutValue = string | number | boolean;

export interface DiffRecord {
  /** position in the sequence */
  i: number;
  /** a stable name for the call, e.g. "device.get_info argsz=8" */
  step: string;
  /** "= N" (the return value), "= fd", or the errno name */
  result: string;
  /** what the call wrote back, field by field (hex for bytes and 64-bit values) */
  out?: Record<string, OutValue>;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const big = (v: bigint): string => `0x${v.toString(16)}`;

function featureFlags(name: keyof typeof VFIO_DEVICE_FEATURE.values, ...ops: ("GET" | "SET" | "PROBE")[]): number {
  return ops.reduce((f, op) => f | VFIO_DEVICE_FEATURE_FLAG.bits[op], VFIO_DEVICE_FEATURE.values[name]);
}

function featureBuf(flags: number, payload: Uint8Array, argsz?: number): Uint8Array {
  const buf = new Uint8Array(vfio_device_feature.size + payload.byteLength);
  buf.set(vfio_device_feature.encode({ argsz: argsz ?? buf.byteLength, flags }));
  buf.set(payload, vfio_device_feature.size);
  return buf;
}

function migState(state: number): Uint8Array {
  return vfio_device_feature_mig_state.encode({ device_state: state, data_fd: -1 });
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** Runs the calls and keeps their records. */
class Recorder {
  readonly records: DiffRecord[] = [];
  private readonly seen = new Map<string, number>();
  constructor(readonly sys: Syscalls) {}

  /** Step names are keys of the known-differences list: a repeated name gets a count. */
  private unique(step: string): string {
    const n = (this.seen.get(step) ?? 0) + 1;
    this.seen.set(step, n);
    return n === 1 ? step : `${step} (${n})`;
  }

  /**
   * Make one call. `fd: true` records a successful result as "fd". Returns the
   * call's value, or null when it failed.
   */
  call(name: string, fn: () => number, options: { fd?: boolean; out?: (ret: number) => Record<string, OutValue> } = {}): number | null {
    const step = this.unique(name);
    let ret: number;
    try {
      ret = fn();
    } catch (e) {
      if (e instanceof Errno) {
        this.records.push({ i: this.records.length, step, result: e.code });
        return null;
      }
      this.records.push({ i: this.records.length, step, result: `exception ${e instanceof Error ? e.name : typeof e}` });
      return null;
    }
    const rec: DiffRecord = { i: this.records.length, step, result: options.fd ? "= fd" : `= ${ret}` };
    if (options.out) rec.out = options.out(ret);
    this.records.push(rec);
    return ret;
  }

  ioctl(step: string, fd: number, request: number, arg?: number | bigint | Uint8Array, out?: (ret: number) => Record<string, OutValue>): number | null {
    return this.call(step, () => this.sys.ioctl(fd, request, arg), out ? { out } : {});
  }

  /** close(2), recorded like any call; an fd that never opened is recorded as such, so both runs stay in step. */
  close(name: string, fd: number | null): void {
    if (fd === null) {
      const step = this.unique(name);
      this.records.push({ i: this.records.length, step, result: "(not open)" });
      return;
    }
    this.call(name, () => {
      this.sys.close(fd);
      return 0;
    });
  }
}

/** An fd the script holds, or -1 when opening it failed (later calls then fail with EBADF on both sides alike). */
const orBad = (fd: number | null): number => fd ?? -1;

function containerAndGroup(r: Recorder, t: DiffTarget): { container: number; group: number; memory: Mapping | null } {
  const { sys } = r;
  const [a] = t.devices;
  const container = orBad(r.call("container.open", () => sys.open("/dev/vfio/vfio"), { fd: true }));
  r.ioctl("container.get_api_version", container, IOCTL.VFIO_GET_API_VERSION);
  for (const [name, ext] of [
    ["TYPE1", VFIO_EXTENSION.VFIO_TYPE1_IOMMU],
    ["TYPE1v2", VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU],
    ["NOIOMMU", VFIO_EXTENSION.VFIO_NOIOMMU_IOMMU],
    ["UNMAP_ALL", VFIO_EXTENSION.VFIO_UNMAP_ALL],
    ["UPDATE_VADDR", VFIO_EXTENSION.VFIO_UPDATE_VADDR],
    ["unknown 42", 42],
  ] as const) {
    r.ioctl(`container.check_extension ${name}`, container, IOCTL.VFIO_CHECK_EXTENSION, ext);
  }
  r.ioctl("container.set_iommu with no group", container, IOCTL.VFIO_SET_IOMMU, VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU);
  r.ioctl("container.iommu_get_info with no iommu", container, IOCTL.VFIO_IOMMU_GET_INFO, vfio_iommu_type1_info.encode({}));
  r.ioctl("container.unknown ioctl", container, IOCTL.VFIO_DEVICE_GET_INFO, vfio_device_info.encode({}));

  const group = orBad(r.call("group.open", () => sys.open(`/dev/vfio/${a.group}`), { fd: true }));
  r.ioctl("group.get_status argsz=4", group, IOCTL.VFIO_GROUP_GET_STATUS, vfio_group_status.encode({ argsz: 4 }, { totalSize: 8 }));
  const status = () => {
    const b = vfio_group_status.encode({});
    return r.ioctl("group.get_status", group, IOCTL.VFIO_GROUP_GET_STATUS, b, () => ({ flags: vfio_group_status.decode(b).flags }));
  };
  status();
  r.ioctl("group.get_device_fd with no container", group, IOCTL.VFIO_GROUP_GET_DEVICE_FD, new TextEncoder().encode(`${a.name}\0`));
  const fdArg = (fd: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, fd, true);
    return b;
  };
  r.ioctl("group.set_container fd=-1", group, IOCTL.VFIO_GROUP_SET_CONTAINER, fdArg(-1));
  r.ioctl("group.set_container fd=the group", group, IOCTL.VFIO_GROUP_SET_CONTAINER, fdArg(group));
  r.ioctl("group.unset_container when unset", group, IOCTL.VFIO_GROUP_UNSET_CONTAINER);
  r.ioctl("group.set_container", group, IOCTL.VFIO_GROUP_SET_CONTAINER, fdArg(container));
  r.ioctl("group.set_container again", group, IOCTL.VFIO_GROUP_SET_CONTAINER, fdArg(container));
  r.ioctl("group.get_device_fd before set_iommu", group, IOCTL.VFIO_GROUP_GET_DEVICE_FD, new TextEncoder().encode(`${a.name}\0`));
  r.ioctl("container.set_iommu type 99", container, IOCTL.VFIO_SET_IOMMU, 99);
  r.ioctl("container.set_iommu TYPE1v2", container, IOCTL.VFIO_SET_IOMMU, VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU);
  r.ioctl("container.set_iommu again", container, IOCTL.VFIO_SET_IOMMU, VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU);
  status();
  {
    const b = vfio_iommu_type1_info.encode({});
    r.ioctl("container.iommu_get_info argsz=minimal", container, IOCTL.VFIO_IOMMU_GET_INFO, b, () => {
      const o = vfio_iommu_type1_info.decode(b);
      return { argsz: o.argsz, flags: o.flags, iova_pgsizes: big(o.iova_pgsizes), cap_offset: o.cap_offset };
    });
  }

  // type1 maps and unmaps user memory for an emulated-IOMMU group as for any other
  const memory = (() => {
    try {
      return sys.mmap(-1, 0x20000, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_PRIVATE | MMAP.MAP_ANONYMOUS, 0n);
    } catch {
      return null;
    }
  })();
  if (memory) {
    const map = (step: string, iova: bigint, size: bigint, vaddr = memory.addr, flags = 3) =>
      r.ioctl(step, container, IOCTL.VFIO_IOMMU_MAP_DMA, vfio_iommu_type1_dma_map.encode({ flags, vaddr, iova, size }));
    const unmap = (step: string, iova: bigint, size: bigint, flags = 0) => {
      const b = vfio_iommu_type1_dma_unmap.encode({ flags, iova, size });
      return r.ioctl(step, container, IOCTL.VFIO_IOMMU_UNMAP_DMA, b, () => ({ size: big(vfio_iommu_type1_dma_unmap.decode(b).size) }));
    };
    map("container.map_dma 64 KiB", 0x100000n, 0x10000n);
    map("container.map_dma overlapping", 0x108000n, 0x10000n, memory.addr + 0x8000n);
    map("container.map_dma unaligned size", 0x200000n, 0x800n);
    map("container.map_dma size 0", 0x200000n, 0n);
    map("container.map_dma no permission", 0x200000n, 0x1000n, memory.addr, 0);
    map("container.map_dma adjacent 64 KiB", 0x110000n, 0x10000n, memory.addr + 0x10000n);
    unmap("container.unmap_dma inside a mapping", 0x104000n, 0x1000n);
    unmap("container.unmap_dma nothing there", 0x400000n, 0x1000n);
    unmap("container.unmap_dma first mapping", 0x100000n, 0x10000n);
    unmap("container.unmap_dma all", 0n, 0n, 2);
  }
  return { container, group, memory };
}

function deviceInfo(r: Recorder, dev: number, label: string): void {
  r.ioctl(`${label}.get_info argsz=8`, dev, IOCTL.VFIO_DEVICE_GET_INFO, vfio_device_info.encode({ argsz: 8 }, { totalSize: 24 }));
  // a full struct whose cap_offset and pad are pre-set: shows how much the driver writes back
  const b = vfio_device_info.encode({ cap_offset: 0xa5a5a5a5, pad: 0x5a5a5a5a });
  r.ioctl(`${label}.get_info`, dev, IOCTL.VFIO_DEVICE_GET_INFO, b, () => {
    const o = vfio_device_info.decode(b);
    return { argsz: o.argsz, flags: o.flags, num_regions: o.num_regions, num_irqs: o.num_irqs, cap_offset: o.cap_offset, pad: o.pad };
  });
}

function regionAndIrqInfo(r: Recorder, dev: number, label: string): void {
  r.ioctl(`${label}.get_region_info argsz=16`, dev, IOCTL.VFIO_DEVICE_GET_REGION_INFO, vfio_region_info.encode({ argsz: 16, index: 0 }, { totalSize: 32 }));
  for (let index = 0; index <= 9; index++) {
    const b = vfio_region_info.encode({ index });
    r.ioctl(`${label}.get_region_info index=${index}`, dev, IOCTL.VFIO_DEVICE_GET_REGION_INFO, b, () => {
      const o = vfio_region_info.decode(b);
      return { argsz: o.argsz, flags: o.flags, cap_offset: o.cap_offset, size: big(o.size), offset: big(o.offset) };
    });
  }
  r.ioctl(`${label}.get_irq_info argsz=8`, dev, IOCTL.VFIO_DEVICE_GET_IRQ_INFO, vfio_irq_info.encode({ argsz: 8, index: 0 }, { totalSize: 16 }));
  for (let index = 0; index <= 5; index++) {
    const b = vfio_irq_info.encode({ index });
    r.ioctl(`${label}.get_irq_info index=${index}`, dev, IOCTL.VFIO_DEVICE_GET_IRQ_INFO, b, () => {
      const o = vfio_irq_info.decode(b);
      return { flags: o.flags, count: o.count };
    });
  }
}

const REGION = (index: number): bigint => BigInt(index) << 40n;
const CONFIG = 7;

/** pread(2); `bytes: false` records only the count, for reads whose bytes are not the device's to choose (see bar2.read). */
function pread(r: Recorder, step: string, fd: number, offset: bigint, length: number, options: { bytes?: boolean } = {}): void {
  const buf = new Uint8Array(length);
  r.call(step, () => r.sys.pread(fd, buf, offset), options.bytes === false ? {} : { out: (n) => ({ bytes: hex(buf.subarray(0, n)) }) });
}

function pwrite(r: Recorder, step: string, fd: number, offset: bigint, bytes: Uint8Array): void {
  r.call(step, () => r.sys.pwrite(fd, bytes, offset));
}

function regionAccess(r: Recorder, dev: number): void {
  pread(r, "config.read 256 bytes", dev, REGION(CONFIG), 256);
  // reads that run past the 255-byte region are left out: mtty copies them from past the end of its buffer
  pread(r, "config.read 3 bytes at 0xfc", dev, REGION(CONFIG) + 0xfcn, 3);
  pread(r, "config.read 3 bytes at 1", dev, REGION(CONFIG) + 1n, 3);
  pwrite(r, "config.write command=0x0007", dev, REGION(CONFIG) + 4n, new Uint8Array([7, 0]));
  pread(r, "config.read command and status", dev, REGION(CONFIG) + 4n, 4);
  pwrite(r, "config.write BAR0=0xffffffff (sizing)", dev, REGION(CONFIG) + 0x10n, u32(0xffffffff));
  pread(r, "config.read BAR0 after sizing", dev, REGION(CONFIG) + 0x10n, 4);
  pwrite(r, "config.write BAR0=0xc001", dev, REGION(CONFIG) + 0x10n, u32(0xc001));
  pread(r, "config.read BAR0..BAR5", dev, REGION(CONFIG) + 0x10n, 24);
  pwrite(r, "config.write interrupt line=0x0b", dev, REGION(CONFIG) + 0x3cn, new Uint8Array([0x0b]));
  pread(r, "config.read interrupt line and pin", dev, REGION(CONFIG) + 0x3cn, 2);

  // port 0's UART: line control, scratch, then loop two bytes through THR/RBR
  for (let reg = 0; reg < 8; reg++) pread(r, `bar0.read register ${reg}`, dev, REGION(0) + BigInt(reg), 1);
  pwrite(r, "bar0.write SCR=0x5a", dev, REGION(0) + 7n, new Uint8Array([0x5a]));
  pread(r, "bar0.read SCR", dev, REGION(0) + 7n, 1);
  pwrite(r, "bar0.write LCR=0x83 (DLAB)", dev, REGION(0) + 3n, new Uint8Array([0x83]));
  pwrite(r, "bar0.write DLL=0x0c", dev, REGION(0), new Uint8Array([0x0c]));
  pread(r, "bar0.read DLL", dev, REGION(0), 1);
  pwrite(r, "bar0.write LCR=0x03", dev, REGION(0) + 3n, new Uint8Array([0x03]));
  pwrite(r, "bar0.write IER=0x0f", dev, REGION(0) + 1n, new Uint8Array([0x0f]));
  pread(r, "bar0.read IER and IIR", dev, REGION(0) + 1n, 2);
  pwrite(r, "bar0.write THR 'A'", dev, REGION(0), new Uint8Array([0x41]));
  pwrite(r, "bar0.write THR 'B'", dev, REGION(0), new Uint8Array([0x42]));
  pread(r, "bar0.read LSR", dev, REGION(0) + 5n, 1);
  pread(r, "bar0.read IIR", dev, REGION(0) + 2n, 1);
  pread(r, "bar0.read RBR", dev, REGION(0), 1);
  pread(r, "bar0.read RBR again", dev, REGION(0), 1);
  pread(r, "bar0.read RBR when empty", dev, REGION(0), 1);
  pread(r, "bar0.read LSR when empty", dev, REGION(0) + 5n, 1);
  pread(r, "bar0.read 8 bytes", dev, REGION(0), 8);
  pread(r, "bar0.read past its end", dev, REGION(0) + 8n, 1);
  pread(r, "bar1.read LSR", dev, REGION(1) + 5n, 1);
  // a two-port device has no third port; mtty answers from past the end of its port array, so only the count is compared
  pread(r, "bar2.read", dev, REGION(2), 1, { bytes: false });
  pread(r, "region 9.read", dev, REGION(9), 1);
  r.call("bar0.mmap", () => {
    const m = r.sys.mmap(dev, 4096, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_SHARED, REGION(0));
    r.sys.munmap(m);
    return 0;
  });
}

function irqSet(flags: number, index: number, start: number, count: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = vfio_irq_set.encode({ flags, index, start, count }, { totalSize: vfio_irq_set.size + data.byteLength });
  b.set(data, vfio_irq_set.size);
  return b;
}

function irqs(r: Recorder, dev: number): void {
  const { sys } = r;
  const { DATA_NONE, DATA_BOOL, DATA_EVENTFD, ACTION_MASK, ACTION_UNMASK, ACTION_TRIGGER } = VFIO_IRQ_SET.bits;
  const efd = orBad(r.call("eventfd", () => sys.eventfd(0, EFD.EFD_NONBLOCK), { fd: true }));
  const fired = (step: string) =>
    r.call(step, () => {
      const ready = sys.poll([{ fd: efd, events: POLL.POLLIN }], 0);
      if (ready.length === 0) return 0;
      const b = new Uint8Array(8);
      sys.read(efd, b);
      return Number(new DataView(b.buffer).getBigUint64(0, true));
    });
  r.ioctl("set_irqs two data types", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_NONE | DATA_BOOL | ACTION_TRIGGER, 0, 0, 1, new Uint8Array(1)));
  r.ioctl("set_irqs two actions", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_NONE | ACTION_MASK | ACTION_TRIGGER, 0, 0, 1));
  r.ioctl("set_irqs index=5", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_NONE | ACTION_TRIGGER, 5, 0, 1));
  r.ioctl("set_irqs intx start=1", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_NONE | ACTION_TRIGGER, 0, 1, 1));
  r.ioctl("set_irqs intx count=2", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_NONE | ACTION_TRIGGER, 0, 0, 2));
  r.ioctl("set_irqs intx eventfd", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_EVENTFD | ACTION_TRIGGER, 0, 0, 1, u32(efd)));
  r.ioctl("set_irqs intx trigger", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_NONE | ACTION_TRIGGER, 0, 0, 1));
  fired("eventfd count after intx trigger");
  r.ioctl("set_irqs intx trigger bool=1", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_BOOL | ACTION_TRIGGER, 0, 0, 1, new Uint8Array([1])));
  fired("eventfd count after bool trigger");
  r.ioctl("set_irqs intx mask", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_NONE | ACTION_MASK, 0, 0, 1));
  r.ioctl("set_irqs intx unmask", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_NONE | ACTION_UNMASK, 0, 0, 1));
  // the UART raises its interrupt when data arrives with IER's receive bit set
  pwrite(r, "bar0.write THR 'C' (interrupt)", dev, REGION(0), new Uint8Array([0x43]));
  fired("eventfd count after a received byte");
  pread(r, "bar0.read RBR 'C'", dev, REGION(0), 1);
  r.ioctl("set_irqs msi eventfd while intx is on", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_EVENTFD | ACTION_TRIGGER, 1, 0, 1, u32(efd)));
  r.ioctl("set_irqs intx disable", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_NONE | ACTION_TRIGGER, 0, 0, 0));
  r.ioctl("set_irqs msi eventfd", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_EVENTFD | ACTION_TRIGGER, 1, 0, 1, u32(efd)));
  r.ioctl("set_irqs msi trigger", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_NONE | ACTION_TRIGGER, 1, 0, 1));
  fired("eventfd count after msi trigger");
  r.ioctl("set_irqs msi eventfd=-1", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_EVENTFD | ACTION_TRIGGER, 1, 0, 1, u32(0xffffffff)));
  r.ioctl("set_irqs msi disable", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_NONE | ACTION_TRIGGER, 1, 0, 0));
  r.ioctl("set_irqs msix eventfd", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_EVENTFD | ACTION_TRIGGER, 2, 0, 1, u32(efd)));
  r.ioctl("set_irqs err eventfd", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_EVENTFD | ACTION_TRIGGER, 3, 0, 1, u32(efd)));
  r.ioctl("set_irqs req eventfd", dev, IOCTL.VFIO_DEVICE_SET_IRQS, irqSet(DATA_EVENTFD | ACTION_TRIGGER, 4, 0, 1, u32(efd)));
  r.close("eventfd close", efd);
}

interface Saved {
  bytes: Uint8Array[];
}

/** Feature calls and migration on one device; returns the stream saved in STOP_COPY. */
function migration(r: Recorder, dev: number, label: string): Saved {
  const { sys } = r;
  const feature = (step: string, flags: number, payload: Uint8Array, decode?: (p: Uint8Array) => Record<string, OutValue>, argsz?: number) => {
    const b = featureBuf(flags, payload, argsz);
    return r.ioctl(step, dev, IOCTL.VFIO_DEVICE_FEATURE, b, decode ? () => decode(b.subarray(vfio_device_feature.size)) : undefined);
  };
  const u64 = (p: Uint8Array): string => big(new DataView(p.buffer, p.byteOffset).getBigUint64(0, true));
  const getState = (step: string) =>
    feature(step, featureFlags("MIG_DEVICE_STATE", "GET"), migState(0), (p) => ({ device_state: vfio_device_feature_mig_state.decode(p).device_state }));
  let dataFd = -1;
  const setState = (step: string, state: number): number | null => {
    const b = featureBuf(featureFlags("MIG_DEVICE_STATE", "SET"), migState(state));
    let fd = -1;
    const ret = r.ioctl(step, dev, IOCTL.VFIO_DEVICE_FEATURE, b, () => {
      fd = vfio_device_feature_mig_state.decode(b.subarray(vfio_device_feature.size)).data_fd;
      return { data_fd: fd >= 0 ? "fd" : fd };
    });
    if (fd >= 0) dataFd = fd;
    return ret;
  };
  const S = VFIO_DEVICE_STATE.values;

  feature(`${label}.feature probe MIGRATION`, featureFlags("MIGRATION", "GET", "PROBE"), new Uint8Array(0));
  feature(`${label}.feature get MIGRATION`, featureFlags("MIGRATION", "GET"), new Uint8Array(8), (p) => ({ flags: u64(p) }));
  feature(`${label}.feature set MIGRATION`, featureFlags("MIGRATION", "SET"), new Uint8Array(8));
  feature(`${label}.feature get MIGRATION argsz=8`, featureFlags("MIGRATION", "GET"), new Uint8Array(8), undefined, 8);
  feature(`${label}.feature get and set MIGRATION`, featureFlags("MIGRATION", "GET", "SET"), new Uint8Array(8));
  feature(`${label}.feature probe unknown 42`, 42 | VFIO_DEVICE_FEATURE_FLAG.bits.GET | VFIO_DEVICE_FEATURE_FLAG.bits.PROBE, new Uint8Array(0));
  feature(`${label}.feature unknown flag bit`, featureFlags("MIGRATION", "GET") | (1 << 20), new Uint8Array(8));
  feature(`${label}.feature probe MIG_DATA_SIZE`, featureFlags("MIG_DATA_SIZE", "GET", "PROBE"), new Uint8Array(0));
  feature(`${label}.feature probe DMA_LOGGING_START`, featureFlags("DMA_LOGGING_START", "SET", "PROBE"), new Uint8Array(0));
  feature(`${label}.feature probe LOW_POWER_ENTRY`, featureFlags("LOW_POWER_ENTRY", "SET", "PROBE"), new Uint8Array(0));
  feature(`${label}.feature probe PCI_VF_TOKEN`, featureFlags("PCI_VF_TOKEN", "SET", "PROBE"), new Uint8Array(0));
  feature(`${label}.feature probe BUS_MASTER`, featureFlags("BUS_MASTER", "SET", "PROBE"), new Uint8Array(0));
  getState(`${label}.state get`);
  feature(`${label}.state get with a short payload`, featureFlags("MIG_DEVICE_STATE", "GET"), new Uint8Array(4));
  setState(`${label}.state set 8 (no such state)`, 8);
  setState(`${label}.state set ERROR`, S.ERROR);
  feature(`${label}.mig_data_size get`, featureFlags("MIG_DATA_SIZE", "GET"), new Uint8Array(8), (p) => ({ stop_copy_length: u64(p) }));

  const precopyInfo = (step: string, fd: number, argsz?: number) => {
    const b = vfio_precopy_info.encode(argsz === undefined ? {} : { argsz });
    return r.ioctl(step, fd, IOCTL.VFIO_MIG_GET_PRECOPY_INFO, b, () => {
      const o = vfio_precopy_info.decode(b);
      return { flags: o.flags, initial_bytes: big(o.initial_bytes), dirty_bytes: big(o.dirty_bytes) };
    });
  };
  // the stream is everything read from the data fd, pre-copy bytes included
  const saved: Saved = { bytes: [] };
  const readChunk = (step: string, max: number): number => {
    const buf = new Uint8Array(max);
    let n = 0;
    r.call(step, () => {
      n = sys.read(dataFd, buf);
      if (n > 0) saved.bytes.push(buf.slice(0, n));
      return n;
    });
    return n;
  };

  setState(`${label}.state set PRE_COPY`, S.PRE_COPY);
  const preFd = dataFd;
  precopyInfo(`${label}.precopy_info in PRE_COPY`, preFd);
  precopyInfo(`${label}.precopy_info argsz=8`, preFd, 8);
  r.ioctl(`${label}.precopy_info on the device fd`, dev, IOCTL.VFIO_MIG_GET_PRECOPY_INFO, vfio_precopy_info.encode({}));
  readChunk(`${label}.precopy read 16 bytes`, 16);
  precopyInfo(`${label}.precopy_info after 16 bytes`, preFd);
  readChunk(`${label}.precopy read the rest`, 65536);
  readChunk(`${label}.precopy read at the end of initial data`, 65536);
  r.call(`${label}.precopy write to the save fd`, () => sys.write(preFd, new Uint8Array(4)));
  setState(`${label}.state set PRE_COPY_P2P`, S.PRE_COPY_P2P);
  precopyInfo(`${label}.precopy_info in PRE_COPY_P2P`, preFd);
  setState(`${label}.state set STOP_COPY from PRE_COPY_P2P`, S.STOP_COPY);
  const stopFd = dataFd;
  r.call(`${label}.stop_copy continues on the pre-copy fd`, () => (stopFd === preFd ? 1 : 0));
  precopyInfo(`${label}.precopy_info in STOP_COPY`, stopFd);
  setState(`${label}.state set PRE_COPY from STOP_COPY (blocked)`, S.PRE_COPY);
  getState(`${label}.state get after the blocked arc`);
  for (let k = 0; k < 8; k++) {
    if (readChunk(`${label}.stop_copy read ${k}`, 4096) === 0) break;
  }
  r.call(`${label}.saved stream`, () => saved.bytes.reduce((n, c) => n + c.byteLength, 0), {
    out: () => ({ head: hex(Buffer.concat(saved.bytes).subarray(0, 16)) }),
  });
  setState(`${label}.state set STOP`, S.STOP);
  const after = new Uint8Array(16);
  r.call(`${label}.read the save fd after STOP`, () => sys.read(stopFd, after));
  r.close(`${label}.close the save fd`, stopFd);
  if (preFd !== stopFd) r.close(`${label}.close the pre-copy fd`, preFd);
  dataFd = -1;
  setState(`${label}.state set RUNNING`, S.RUNNING);
  return saved;
}

function resume(r: Recorder, dev: number, label: string, saved: Saved): void {
  const { sys } = r;
  const S = VFIO_DEVICE_STATE.values;
  const set = (step: string, state: number): number => {
    const b = featureBuf(featureFlags("MIG_DEVICE_STATE", "SET"), migState(state));
    let fd = -1;
    r.ioctl(step, dev, IOCTL.VFIO_DEVICE_FEATURE, b, () => {
      fd = vfio_device_feature_mig_state.decode(b.subarray(vfio_device_feature.size)).data_fd;
      return { data_fd: fd >= 0 ? "fd" : fd };
    });
    return fd;
  };
  const fd = set(`${label}.state set RESUMING`, S.RESUMING);
  r.call(`${label}.read the resume fd`, () => sys.read(fd, new Uint8Array(16)));
  for (const [k, chunk] of saved.bytes.entries()) r.call(`${label}.resume write ${k}`, () => sys.write(fd, chunk));
  set(`${label}.state set STOP (load)`, S.STOP);
  r.close(`${label}.close the resume fd`, fd);
  pread(r, `${label}.bar0.read SCR after resume`, dev, REGION(0) + 7n, 1);
  pread(r, `${label}.bar0.read LCR after resume`, dev, REGION(0) + 3n, 1);
  pread(r, `${label}.config.read command after resume`, dev, REGION(CONFIG) + 4n, 2);

  const bad = set(`${label}.state set RESUMING (bad stream)`, S.RESUMING);
  r.call(`${label}.resume write 64 zero bytes`, () => sys.write(bad, new Uint8Array(64)));
  set(`${label}.state set STOP (bad stream)`, S.STOP);
  const b = featureBuf(featureFlags("MIG_DEVICE_STATE", "GET"), migState(0));
  r.ioctl(`${label}.state get after the bad stream`, dev, IOCTL.VFIO_DEVICE_FEATURE, b, () => ({
    device_state: vfio_device_feature_mig_state.decode(b.subarray(vfio_device_feature.size)).device_state,
  }));
  r.close(`${label}.close the bad resume fd`, bad);
  r.ioctl(`${label}.reset`, dev, IOCTL.VFIO_DEVICE_RESET);
  r.ioctl(`${label}.state get after reset`, dev, IOCTL.VFIO_DEVICE_FEATURE, b, () => ({
    device_state: vfio_device_feature_mig_state.decode(b.subarray(vfio_device_feature.size)).device_state,
  }));
  pread(r, `${label}.bar0.read SCR after reset`, dev, REGION(0) + 7n, 1);
}

function groupPath(r: Recorder, t: DiffTarget): void {
  const [a, b] = t.devices;
  const { container, group, memory } = containerAndGroup(r, t);
  const name = (s: string) => new TextEncoder().encode(`${s}\0`);
  r.ioctl("group.get_device_fd unknown name", group, IOCTL.VFIO_GROUP_GET_DEVICE_FD, name("00000000-0000-0000-0000-000000000000"));
  // the interrupt index check uses what the last GET_INFO answered: ask before any GET_INFO on this device
  const dev = orBad(r.call("group.get_device_fd", () => r.sys.ioctl(group, IOCTL.VFIO_GROUP_GET_DEVICE_FD, name(a.name)), { fd: true }));
  r.ioctl("device.get_irq_info index=0 before get_info", dev, IOCTL.VFIO_DEVICE_GET_IRQ_INFO, vfio_irq_info.encode({ index: 0 }));
  deviceInfo(r, dev, "device");
  regionAndIrqInfo(r, dev, "device");
  regionAccess(r, dev);
  irqs(r, dev);
  r.ioctl("device.unknown ioctl", dev, IOCTL.VFIO_IOMMU_MAP_DMA, vfio_iommu_type1_dma_map.encode({}));
  r.ioctl("device.bind_iommufd on a group-opened device", dev, IOCTL.VFIO_DEVICE_BIND_IOMMUFD, vfio_device_bind_iommufd.encode({ iommufd: -1 }));
  const second = r.call("group.get_device_fd a second time", () => r.sys.ioctl(group, IOCTL.VFIO_GROUP_GET_DEVICE_FD, name(a.name)), { fd: true });
  r.close("device.close the second fd", second);
  const saved = migration(r, dev, "device");

  const groupB = orBad(r.call("group B.open", () => r.sys.open(`/dev/vfio/${b.group}`), { fd: true }));
  const arg = new Uint8Array(4);
  new DataView(arg.buffer).setInt32(0, container, true);
  r.ioctl("group B.set_container", groupB, IOCTL.VFIO_GROUP_SET_CONTAINER, arg);
  const devB = orBad(r.call("group B.get_device_fd", () => r.sys.ioctl(groupB, IOCTL.VFIO_GROUP_GET_DEVICE_FD, name(b.name)), { fd: true }));
  resume(r, devB, "device B", saved);
  r.close("device B.close", devB);
  r.ioctl("group B.unset_container", groupB, IOCTL.VFIO_GROUP_UNSET_CONTAINER);
  r.close("group B.close", groupB);

  r.close("device.close", dev);
  r.ioctl("group.unset_container", group, IOCTL.VFIO_GROUP_UNSET_CONTAINER);
  r.close("group.close", group);
  r.close("container.close", container);
  if (memory) r.sys.munmap(memory);
}

function cdevPath(r: Recorder, t: DiffTarget): void {
  const [a] = t.devices;
  const { sys } = r;
  const dev = orBad(r.call("cdev.open", () => sys.open(a.cdev), { fd: true }));
  r.ioctl("cdev.get_info before bind", dev, IOCTL.VFIO_DEVICE_GET_INFO, vfio_device_info.encode({}));
  r.ioctl("cdev.attach before bind", dev, IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, vfio_device_attach_iommufd_pt.encode({ pt_id: 1 }));
  const ictx = orBad(r.call("iommufd.open", () => sys.open("/dev/iommu"), { fd: true }));
  let devId = 0;
  const bind = (step: string, iommufd: number, flags = 0, argsz?: number) => {
    const b = vfio_device_bind_iommufd.encode(argsz === undefined ? { flags, iommufd } : { flags, iommufd, argsz });
    return r.ioctl(step, dev, IOCTL.VFIO_DEVICE_BIND_IOMMUFD, b, () => {
      devId = vfio_device_bind_iommufd.decode(b).out_devid;
      return { out_devid: devId };
    });
  };
  bind("cdev.bind iommufd=-1", -1);
  bind("cdev.bind argsz=8", ictx, 0, 8);
  bind("cdev.bind unknown flag", ictx, 2);
  bind("cdev.bind", ictx);
  bind("cdev.bind again", ictx);
  const ioasBuf = iommu_ioas_alloc.encode({});
  r.ioctl("iommufd.ioas_alloc", ictx, IOCTL.IOMMU_IOAS_ALLOC, ioasBuf, () => ({ out_ioas_id: iommu_ioas_alloc.decode(ioasBuf).out_ioas_id }));
  const ioas = iommu_ioas_alloc.decode(ioasBuf).out_ioas_id;
  const attach = (step: string, ptId: number) => {
    const b = vfio_device_attach_iommufd_pt.encode({ pt_id: ptId });
    return r.ioctl(step, dev, IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, b, () => ({ pt_id: vfio_device_attach_iommufd_pt.decode(b).pt_id }));
  };
  r.ioctl("cdev.get_info bound, not attached", dev, IOCTL.VFIO_DEVICE_GET_INFO, vfio_device_info.encode({}));
  attach("cdev.attach pt_id=999", 999);
  attach("cdev.attach", ioas);
  attach("cdev.attach again", ioas);
  r.ioctl("cdev.detach", dev, IOCTL.VFIO_DEVICE_DETACH_IOMMUFD_PT, vfio_device_detach_iommufd_pt.encode({}));
  r.ioctl("cdev.detach when detached", dev, IOCTL.VFIO_DEVICE_DETACH_IOMMUFD_PT, vfio_device_detach_iommufd_pt.encode({}));
  attach("cdev.attach after detach", ioas);
  const hw = iommu_hw_info.encode({ dev_id: devId });
  r.ioctl("iommufd.get_hw_info for the mdev", ictx, IOCTL.IOMMU_GET_HW_INFO, hw, () => ({ out_data_type: iommu_hw_info.decode(hw).out_data_type }));
  deviceInfo(r, dev, "cdev");
  const info = vfio_irq_info.encode({ index: 1 });
  r.ioctl("cdev.get_irq_info index=1", dev, IOCTL.VFIO_DEVICE_GET_IRQ_INFO, info, () => ({ flags: vfio_irq_info.decode(info).flags, count: vfio_irq_info.decode(info).count }));
  pread(r, "cdev.config.read 64 bytes", dev, REGION(CONFIG), 64);
  const st = featureBuf(featureFlags("MIG_DEVICE_STATE", "GET"), migState(0));
  r.ioctl("cdev.state get", dev, IOCTL.VFIO_DEVICE_FEATURE, st, () => ({
    device_state: vfio_device_feature_mig_state.decode(st.subarray(vfio_device_feature.size)).device_state,
  }));
  const group = r.call("group.open while the cdev is open", () => sys.open(`/dev/vfio/${a.group}`), { fd: true });
  r.close("group.close", group);
  r.close("cdev.close", dev);
  r.close("iommufd.close", ictx);
}

/** Run the whole sequence; a target must be fresh (no earlier GET_INFO on either device). */
export function runDifferential(target: DiffTarget): DiffRecord[] {
  const r = new Recorder(target.sys);
  groupPath(r, target);
  cdevPath(r, target);
  return r.records;
}
