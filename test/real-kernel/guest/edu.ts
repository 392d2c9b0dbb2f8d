/**
 * (a) The typed library on the native backend, against QEMU's edu device bound
 * to vfio-pci: once through a type1v2 container and once through iommufd with
 * the device cdev. The same device checks run on both paths; only the way DMA
 * is mapped differs.
 */
import { EFD, IOMMU_HW_INFO_TYPE, MMAP, POLL, VFIO_EXTENSION, VFIO_PCI_IRQ, VFIO_PCI_REGION, type Mapping, type Syscalls } from "../../../hw-emu/uapi/index.js";
import { Container, Device, Group, Iommufd, VfioError, listPciDevices, type CdevDevice, type Ioas, type PciDeviceEntry } from "../../../kernel-lib/vfio/index.js";
import { EDU, Edu, viaMapping, viaRegion } from "./edu-device.js";
import { kernelLog } from "./kmsg.js";
import { check, equal, hex, type Reporter } from "./report.js";

export const EDU_ADDRESS = "0000:00:01.0";

/** Where the tests put guest memory in the device's IO address space (below edu's 28-bit DMA mask). */
const IOVA = 0x100000n;
const MEMORY = 0x10000;
/** An IOVA nothing is mapped at: a DMA there must fault in the IOMMU. */
const UNMAPPED_IOVA = 0x800000n;
const MSI_WINDOW = 0xfee00000n;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_COMMAND_MASTER = 0x4;

/** How a path maps and unmaps guest memory for the device. */
interface DmaMapper {
  map(memory: Mapping, iova: bigint): void;
  unmap(iova: bigint, size: bigint): bigint;
}

function eventfdCount(sys: Syscalls, efd: number, timeoutMs: number): number {
  const ready = sys.poll([{ fd: efd, events: POLL.POLLIN }], timeoutMs);
  if (ready.length === 0) return 0;
  const b = new Uint8Array(8);
  sys.read(efd, b);
  return Number(new DataView(b.buffer).getBigUint64(0, true));
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

/** The device checks both paths share. `t` is the path's test function. */
function deviceChecks(sys: Syscalls, r: Reporter, path: string, dev: Device, mapper: DmaMapper): void {
  const t = (name: string, fn: () => string | void) => r.test("edu", `${path}: ${name}`, fn);

  t("device info: a PCI device with 9 regions and 5 interrupt indexes, no reset method", () => {
    const info = dev.info();
    check(info.pci, "the PCI flag is not set");
    check(info.numRegions >= VFIO_PCI_REGION.VFIO_PCI_NUM_REGIONS, `num_regions ${info.numRegions}`);
    equal(info.numIrqs, VFIO_PCI_IRQ.VFIO_PCI_NUM_IRQS, "num_irqs");
    equal(info.reset, false, "the RESET flag");
    return `flags ${hex(info.flags)}`;
  });

  t("no migration driver and no DMA logging (the features answer ENOTTY)", () => {
    equal(dev.migration, null, "migration");
    equal(dev.dmaLogging, null, "DMA logging");
  });

  t("VFIO_DEVICE_RESET is refused with EINVAL", () => {
    try {
      dev.reset();
    } catch (e) {
      if (e instanceof VfioError && e.code === "EINVAL") return;
      throw e;
    }
    throw new Error("reset succeeded on a device without a reset method");
  });

  t("regions: BAR0 is 1 MiB, readable, writable and mmappable; BAR1-5 are empty; config space is there", () => {
    const bar0 = dev.regionInfo(VFIO_PCI_REGION.VFIO_PCI_BAR0_REGION_INDEX);
    equal(bar0.size, EDU.BAR0_SIZE, "BAR0 size");
    check(bar0.readable && bar0.writable && bar0.mmappable, `BAR0 flags r=${bar0.readable} w=${bar0.writable} mmap=${bar0.mmappable}`);
    for (let i = 1; i <= 5; i++) equal(dev.regionInfo(i).size, 0n, `BAR${i} size`);
    const cfg = dev.regionInfo(VFIO_PCI_REGION.VFIO_PCI_CONFIG_REGION_INDEX);
    check(cfg.size >= 256n && cfg.readable && cfg.writable, `config region size ${cfg.size}`);
    return `BAR0 at offset ${hex(bar0.offset)}, config ${cfg.size} bytes`;
  });

  t("config space: vendor 1234, device 11e8, an MSI capability in the list", () => {
    const cfg = dev.config;
    const head = new DataView(cfg.read(0, 64).buffer);
    equal(head.getUint16(0, true), EDU.VENDOR, "vendor");
    equal(head.getUint16(2, true), EDU.DEVICE, "device");
    check((head.getUint16(6, true) & 0x10) !== 0, "the status register does not announce a capability list");
    const ids: number[] = [];
    for (let ptr = head.getUint8(0x34) & 0xfc; ptr !== 0 && ids.length < 48; ) {
      const cap = cfg.read(ptr, 2);
      ids.push(cap[0]!);
      ptr = cap[1]! & 0xfc;
    }
    check(ids.includes(0x05), `capabilities ${ids.map((i) => hex(i)).join(", ") || "none"}`);
    return `capabilities ${ids.map((i) => hex(i)).join(", ")}`;
  });

  t("bus mastering is off after open, and turns on through the virtualised command register", () => {
    const cfg = dev.config;
    const before = new DataView(cfg.read(4, 2).buffer).getUint16(0, true);
    check((before & PCI_COMMAND_MASTER) === 0, `command ${hex(before)} already has bus mastering`);
    // without it QEMU drops the device's DMA and its MSI writes
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, before | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, true);
    cfg.write(4, b);
    const after = new DataView(cfg.read(4, 2).buffer).getUint16(0, true);
    check((after & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) === (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), `command ${hex(after)} after the write`);
    return `command ${hex(before)} -> ${hex(after)}`;
  });

  const regs = viaRegion(dev.region(VFIO_PCI_REGION.VFIO_PCI_BAR0_REGION_INDEX));
  const edu = new Edu(regs);

  t("BAR0 through pread/pwrite: identification, liveness inversion, factorial", () => {
    const id = regs.read(EDU.ID);
    equal(id & 0xffff, 0x00ed, `identification ${hex(id)}`);
    regs.write(EDU.LIVENESS, 0x12345678);
    equal(regs.read(EDU.LIVENESS), ~0x12345678 >>> 0, "liveness");
    equal(edu.factorial(5), 120, "5!");
    return `identification ${hex(id)}`;
  });

  t("BAR0 through mmap: the same registers, consistent with pread/pwrite", () => {
    const bar = dev.region(VFIO_PCI_REGION.VFIO_PCI_BAR0_REGION_INDEX);
    const m = bar.mmap(4096);
    try {
      const mm = viaMapping(m);
      equal(mm.read(EDU.ID), regs.read(EDU.ID), "identification through the mapping");
      mm.write(EDU.LIVENESS, 0xcafe0001);
      equal(regs.read(EDU.LIVENESS), ~0xcafe0001 >>> 0, "liveness written through the mapping, read through pread");
      regs.write(EDU.LIVENESS, 0x0badf00d);
      equal(mm.read(EDU.LIVENESS), ~0x0badf00d >>> 0, "liveness written through pwrite, read through the mapping");
    } finally {
      sys.munmap(m);
    }
  });

  const memory = sys.mmap(-1, MEMORY, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_PRIVATE | MMAP.MAP_ANONYMOUS, 0n);
  let mapped = false;
  t(`DMA map of ${MEMORY / 1024} KiB of anonymous memory at IOVA ${hex(IOVA)}`, () => {
    mapper.map(memory, IOVA);
    mapped = true;
  });

  t("a real DMA: RAM -> edu buffer -> RAM through the IOMMU (1000 bytes)", () => {
    check(mapped, "the memory is not mapped");
    const bytes = pattern(1000, 3);
    memory.write(0, bytes);
    memory.write(0x2000, new Uint8Array(1000));
    edu.dma(Number(IOVA), EDU.BUFFER, bytes.byteLength, false);
    edu.dma(EDU.BUFFER, Number(IOVA) + 0x2000, bytes.byteLength, true);
    const back = memory.read(0x2000, bytes.byteLength);
    check(sameBytes(back, bytes), `the bytes came back different (first: ${hex(back[0]!)} vs ${hex(bytes[0]!)})`);
  });

  let efd = -1;
  t("MSI through an eventfd: a raised interrupt signals it, and the status register holds the value", () => {
    const info = dev.irqInfo(VFIO_PCI_IRQ.VFIO_PCI_MSI_IRQ_INDEX);
    check(info.eventfd && info.count === 1, `MSI irq info: count ${info.count}, eventfd ${info.eventfd}`);
    efd = sys.eventfd(0, EFD.EFD_NONBLOCK);
    dev.setIrqEventfds(VFIO_PCI_IRQ.VFIO_PCI_MSI_IRQ_INDEX, 0, [efd]);
    equal(eventfdCount(sys, efd, 0), 0, "interrupts before the raise");
    edu.raise(0x1);
    const n = eventfdCount(sys, efd, 5000);
    check(n >= 1, "the eventfd was not signalled within 5 s");
    equal(edu.regs.read(EDU.IRQ_STATUS) & 0x1, 0x1, "interrupt status");
    edu.ack(0x1);
    equal(edu.regs.read(EDU.IRQ_STATUS), 0, "interrupt status after the acknowledge");
    return `${n} signal(s)`;
  });

  t("a DMA completion interrupt arrives as an MSI", () => {
    check(efd >= 0, "MSI is not set up");
    edu.dma(Number(IOVA), EDU.BUFFER, 256, false, { irq: true });
    const n = eventfdCount(sys, efd, 5000);
    check(n >= 1, "the completion did not signal the eventfd within 5 s");
    equal(edu.regs.read(EDU.IRQ_STATUS) & EDU.IRQ_DMA, EDU.IRQ_DMA, "interrupt status");
    edu.ack(EDU.IRQ_DMA);
  });

  t("MSI teardown: no signal once the vector is disabled", () => {
    check(efd >= 0, "MSI is not set up");
    dev.disableIrqs(VFIO_PCI_IRQ.VFIO_PCI_MSI_IRQ_INDEX);
    edu.raise(0x2);
    equal(eventfdCount(sys, efd, 200), 0, "signals after disable");
    edu.ack(0x2);
  });
  if (efd >= 0) sys.close(efd);

  t(`a DMA to an unmapped IOVA (${hex(UNMAPPED_IOVA)}) is blocked and faults in the IOMMU`, () => {
    check(mapped, "the memory is not mapped");
    const canary = new Uint8Array(1000).fill(0xa5);
    memory.write(0x4000, canary);
    // only records logged after this DMA count (the other path's fault is in the log too)
    const logged = kernelLog().length;
    edu.dma(EDU.BUFFER, Number(UNMAPPED_IOVA), 1000, true);
    check(sameBytes(memory.read(0x4000, 1000), canary), "mapped memory changed");
    const page = `fault addr 0x${UNMAPPED_IOVA.toString(16)}`;
    const fault = kernelLog()
      .slice(logged)
      .find((l) => l.includes("DMAR") && l.includes(page));
    check(fault !== undefined, `no DMAR fault record for ${hex(UNMAPPED_IOVA)} in the kernel log`);
    return fault;
  });

  t("DMA unmap returns the mapped size", () => {
    check(mapped, "the memory is not mapped");
    equal(mapper.unmap(IOVA, BigInt(MEMORY)), BigInt(MEMORY), "bytes unmapped");
    mapped = false;
  });
  sys.munmap(memory);
}

function findEdu(sys: Syscalls): PciDeviceEntry {
  const e = listPciDevices(sys).find((d) => d.address === EDU_ADDRESS);
  if (!e) throw new Error(`no PCI device at ${EDU_ADDRESS}`);
  return e;
}

function type1Path(sys: Syscalls, r: Reporter): void {
  const t = (name: string, fn: () => string | void) => r.test("edu", `type1: ${name}`, fn);
  const s: { container?: Container; group?: Group; dev?: Device } = {};
  t("open the container: API version 0, TYPE1v2 offered", () => {
    const c = (s.container = Container.open(sys));
    equal(c.apiVersion(), 0, "API version");
    equal(c.checkExtension(VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU), 1, "TYPE1v2 extension");
  });
  t("the group is viable; it joins the container, which gets the TYPE1v2 IOMMU", () => {
    const entry = findEdu(sys);
    check(entry.iommuGroup !== null, "edu has no IOMMU group");
    check(s.container !== undefined, "no container");
    const g = (s.group = Group.open(sys, entry.iommuGroup));
    check(g.status().viable, "the group is not viable");
    g.setContainer(s.container);
    s.container.setIommu();
    check(g.status().containerSet, "CONTAINER_SET is not reported");
    return `group ${entry.iommuGroup}`;
  });
  t("IOMMU info: 4 KiB pages; the IOVA ranges leave out the MSI window", () => {
    check(s.container !== undefined, "no container");
    const info = s.container.info();
    check((info.iovaPageSizes & 0x1000n) !== 0n, `page sizes ${hex(info.iovaPageSizes)}`);
    check(info.iovaRanges.length > 0, "no IOVA ranges");
    check(!info.iovaRanges.some((x) => x.start <= MSI_WINDOW && MSI_WINDOW <= x.end), "an IOVA range covers the MSI window");
    return info.iovaRanges.map((x) => `${hex(x.start)}-${hex(x.end)}`).join(", ");
  });
  t("GROUP_GET_DEVICE_FD by PCI address", () => {
    check(s.group !== undefined, "no group");
    s.dev = s.group.device(EDU_ADDRESS);
  });
  const { dev, container } = s;
  if (dev && container) {
    deviceChecks(sys, r, "type1", dev, {
      map: (m, iova) => container.mapDma({ vaddr: m.addr, iova, size: BigInt(m.length) }),
      unmap: (iova, size) => container.unmapDma(iova, size).unmapped,
    });
  }
  t("close the device, leave the container, close everything", () => {
    s.dev?.close();
    s.group?.unsetContainer();
    s.group?.close();
    s.container?.close();
  });
}

function iommufdPath(sys: Syscalls, r: Reporter): void {
  const t = (name: string, fn: () => string | void) => r.test("edu", `iommufd: ${name}`, fn);
  const s: { ictx?: Iommufd; ioas?: Ioas; dev?: CdevDevice; devId?: number } = {};
  t("the device has a cdev; /dev/iommu opens and allocates an IOAS", () => {
    const entry = findEdu(sys);
    check(entry.cdev !== null, "edu has no VFIO cdev");
    s.ictx = Iommufd.open(sys);
    s.ioas = s.ictx.allocIoas();
    return `${entry.cdev}, IOAS ${s.ioas.id}`;
  });
  t("bind the cdev to the iommufd and attach it to the IOAS", () => {
    const { ictx, ioas } = s;
    check(ictx !== undefined && ioas !== undefined, "no iommufd");
    const unbound = Device.openCdev(sys, findEdu(sys).cdev!);
    const bound = unbound.bind(ictx);
    s.dev = bound.device;
    s.devId = bound.devId;
    const hwpt = bound.device.attach(ioas.id);
    return `dev_id ${bound.devId}, HWPT ${hwpt}`;
  });
  t("GET_HW_INFO reports Intel VT-d", () => {
    check(s.ictx !== undefined && s.devId !== undefined, "no bound device");
    const hw = s.ictx.hwInfo(s.devId);
    equal(hw.dataType, IOMMU_HW_INFO_TYPE.values.INTEL_VTD, "data type");
    return `dirty tracking ${hw.dirtyTracking ? "offered" : "not offered"}`;
  });
  t("IOAS IOVA ranges leave out the MSI window", () => {
    check(s.ioas !== undefined, "no IOAS");
    const { ranges } = s.ioas.ranges();
    check(ranges.length > 0, "no IOVA ranges");
    check(!ranges.some((x) => x.start <= MSI_WINDOW && MSI_WINDOW <= x.last), "an IOVA range covers the MSI window");
    return ranges.map((x) => `${hex(x.start)}-${hex(x.last)}`).join(", ");
  });
  t("IOAS_MAP without a fixed IOVA: the kernel picks an aligned IOVA inside the allowed ranges", () => {
    const ioas = s.ioas;
    check(ioas !== undefined, "no IOAS");
    const m = sys.mmap(-1, 0x4000, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_PRIVATE | MMAP.MAP_ANONYMOUS, 0n);
    try {
      const iova = ioas.map({ userVa: m.addr, length: 0x4000n });
      check(iova % 0x1000n === 0n, `IOVA ${hex(iova)} is not page aligned`);
      check(ioas.ranges().ranges.some((x) => x.start <= iova && iova + 0x3fffn <= x.last), `IOVA ${hex(iova)} is outside the allowed ranges`);
      equal(ioas.unmap(iova, 0x4000n), 0x4000n, "bytes unmapped");
      return `IOVA ${hex(iova)}`;
    } finally {
      sys.munmap(m);
    }
  });
  const { dev, ioas } = s;
  if (dev && ioas) {
    deviceChecks(sys, r, "iommufd", dev, {
      map: (m, iova) => void ioas.map({ userVa: m.addr, length: BigInt(m.length), iova }),
      unmap: (iova, size) => ioas.unmap(iova, size),
    });
  }
  t("detach, close the device and the iommufd", () => {
    s.dev?.detach();
    s.dev?.close();
    s.ictx?.close();
  });
}

export function runEduTests(sys: Syscalls, r: Reporter): void {
  r.test("edu", `edu is at ${EDU_ADDRESS}, bound to vfio-pci`, () => {
    const e = findEdu(sys);
    equal(e.vendor, EDU.VENDOR, "vendor");
    equal(e.device, EDU.DEVICE, "device");
    equal(e.driver, "vfio-pci", "driver");
    return `group ${e.iommuGroup}, cdev ${e.cdev}`;
  });
  type1Path(sys, r);
  iommufdPath(sys, r);
}
