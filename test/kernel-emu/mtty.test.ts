import { describe, expect, it } from "vitest";
import { createMachine, type EmulatedMachine } from "../../hw-emu/machine/machine.js";
import {
  Errno,
  IO,
  IOCTL,
  VFIO,
  MMAP,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_FLAG,
  VFIO_DEVICE_FLAGS,
  VFIO_DEVICE_STATE,
  VFIO_IRQ_INFO,
  VFIO_IRQ_SET,
  VFIO_MIGRATION,
  VFIO_REGION_INFO_FLAG,
  iommu_ioas_alloc,
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_feature_dma_logging_control,
  vfio_device_feature_dma_logging_range,
  vfio_device_feature_dma_logging_report,
  vfio_device_feature_mig_data_size,
  vfio_device_feature_mig_state,
  vfio_device_feature_migration,
  vfio_device_info,
  vfio_irq_info,
  vfio_irq_set,
  vfio_precopy_info,
  vfio_region_info,
  type MigStateName,
} from "../../hw-emu/uapi/index.js";
import { directArcs } from "../../hw-emu/uapi/migration-fsm.js";
import { MttyDriver } from "../../hw-emu/kernel/drivers/mtty.js";
import { SerialMdev, UART_IER, UART_IER_RDI, UART_LCR, UART_LSR, UART_LSR_DR, UART_MCR, UART_SCR } from "../../hw-emu/hw/devices/serial-mdev.js";

const { DATA_NONE, DATA_BOOL, DATA_EVENTFD, ACTION_MASK, ACTION_UNMASK, ACTION_TRIGGER } = VFIO_IRQ_SET.bits;
const { GET, SET, PROBE } = VFIO_DEVICE_FEATURE_FLAG.bits;
const F = VFIO_DEVICE_FEATURE.values;
const [INTX, MSI, MSIX, ERR, REQ] = [0, 1, 2, 3, 4];
const CONFIG = 7;
const SHIFT = 40n;
const HEADER_BYTES = 24;
const PORT_BYTES = 36;

function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof Errno) return e.code;
    throw e;
  }
  return "ok";
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, true);
  return b;
}

/** A serial mdev on a machine, opened through its group and a type1 container. */
function viaGroup(ports = 1, extra: Partial<Parameters<typeof createMachine>[0]> = {}) {
  const m = createMachine({ devices: [{ model: "serial", ports }], ...extra });
  const s = m.sys;
  const container = s.open("/dev/vfio/vfio");
  const group = s.open(`/dev/vfio/${m.devices[0]!.group}`);
  s.ioctl(group, IOCTL.VFIO_GROUP_SET_CONTAINER, u32(container));
  s.ioctl(container, IOCTL.VFIO_SET_IOMMU, 3);
  const fd = s.ioctl(group, IOCTL.VFIO_GROUP_GET_DEVICE_FD, new TextEncoder().encode(m.devices[0]!.address + "\0"));
  return new Dev(m, fd, group);
}

/** The same device opened through its cdev, bound to an iommufd and attached to an IOAS. */
function viaCdev(ports = 1) {
  const m = createMachine({ devices: [{ model: "serial", ports }] });
  const s = m.sys;
  const iommufd = s.open("/dev/iommu");
  const ioas = iommu_ioas_alloc.encode({});
  s.ioctl(iommufd, IOCTL.IOMMU_IOAS_ALLOC, ioas);
  const ioasId = iommu_ioas_alloc.decode(ioas).out_ioas_id;
  const fd = s.open(m.devices[0]!.cdev);
  const bind = vfio_device_bind_iommufd.encode({ iommufd });
  s.ioctl(fd, IOCTL.VFIO_DEVICE_BIND_IOMMUFD, bind);
  s.ioctl(fd, IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, vfio_device_attach_iommufd_pt.encode({ pt_id: ioasId }));
  return new Dev(m, fd);
}

/** Syscall helpers on one device fd. */
class Dev {
  constructor(
    readonly m: EmulatedMachine,
    readonly fd: number,
    /** the group fd, when opened through the group */
    readonly group = -1,
  ) {}

  get sys() {
    return this.m.sys;
  }

  get uart(): SerialMdev {
    return (this.m.devices[0]!.driver as MttyDriver).model;
  }

  info(argsz = vfio_device_info.size) {
    const buf = vfio_device_info.encode({ argsz, cap_offset: 0xabcd });
    this.sys.ioctl(this.fd, IOCTL.VFIO_DEVICE_GET_INFO, buf);
    return vfio_device_info.decode(buf);
  }

  region(index: number, argsz = vfio_region_info.size) {
    const buf = vfio_region_info.encode({ argsz, index, cap_offset: 0x77 });
    this.sys.ioctl(this.fd, IOCTL.VFIO_DEVICE_GET_REGION_INFO, buf);
    return vfio_region_info.decode(buf);
  }

  irq(index: number, argsz = vfio_irq_info.size) {
    const buf = vfio_irq_info.encode({ argsz, index });
    this.sys.ioctl(this.fd, IOCTL.VFIO_DEVICE_GET_IRQ_INFO, buf);
    return vfio_irq_info.decode(buf);
  }

  setIrqs(flags: number, index: number, start: number, count: number, data: number[] = []): number {
    const each = flags & DATA_EVENTFD ? 4 : flags & DATA_BOOL ? 1 : 0;
    const buf = new Uint8Array(20 + count * each);
    buf.set(vfio_irq_set.encode({ argsz: buf.length, flags, index, start, count }).subarray(0, 20));
    data.forEach((v, i) => (each === 4 ? new DataView(buf.buffer).setInt32(20 + 4 * i, v, true) : (buf[20 + i] = v)));
    return this.sys.ioctl(this.fd, IOCTL.VFIO_DEVICE_SET_IRQS, buf);
  }

  read(index: number, pos: number, n: number): Uint8Array {
    const b = new Uint8Array(n);
    expect(this.sys.pread(this.fd, b, (BigInt(index) << SHIFT) + BigInt(pos))).toBe(n);
    return b;
  }

  write(index: number, pos: number, bytes: number[]): number {
    return this.sys.pwrite(this.fd, Uint8Array.from(bytes), (BigInt(index) << SHIFT) + BigInt(pos));
  }

  cfg32(pos: number): number {
    return new DataView(this.read(CONFIG, pos, 4).buffer).getUint32(0, true);
  }

  setCfg32(pos: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.sys.pwrite(this.fd, b, (BigInt(CONFIG) << SHIFT) + BigInt(pos));
  }

  feature(flags: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
    const buf = new Uint8Array(8 + payload.length);
    const v = new DataView(buf.buffer);
    v.setUint32(0, buf.length, true);
    v.setUint32(4, flags, true);
    buf.set(payload, 8);
    this.sys.ioctl(this.fd, IOCTL.VFIO_DEVICE_FEATURE, buf);
    return buf.subarray(8);
  }

  setState(state: MigStateName): number {
    const out = this.feature(SET | F.MIG_DEVICE_STATE, vfio_device_feature_mig_state.encode({ device_state: VFIO_DEVICE_STATE.values[state], data_fd: -1 }));
    return vfio_device_feature_mig_state.decode(out).data_fd;
  }

  state(): MigStateName {
    const v = vfio_device_feature_mig_state.decode(this.feature(GET | F.MIG_DEVICE_STATE, new Uint8Array(8))).device_state;
    return (Object.entries(VFIO_DEVICE_STATE.values).find(([, n]) => n === v)![0]) as MigStateName;
  }

  precopy(dataFd: number) {
    const buf = vfio_precopy_info.encode({});
    this.sys.ioctl(dataFd, IOCTL.VFIO_MIG_GET_PRECOPY_INFO, buf);
    return vfio_precopy_info.decode(buf);
  }

  readData(dataFd: number, max = 4096): Uint8Array {
    const b = new Uint8Array(max);
    return b.slice(0, this.sys.read(dataFd, b));
  }

  readAll(dataFd: number): Uint8Array {
    const parts: number[] = [];
    for (;;) {
      const c = this.readData(dataFd, 16);
      if (c.length === 0) return Uint8Array.from(parts);
      parts.push(...c);
    }
  }

  reset(): void {
    this.sys.ioctl(this.fd, IOCTL.VFIO_DEVICE_RESET);
  }

  eventfd(): number {
    return this.sys.eventfd(0);
  }

  /** the eventfd's counter (reading it resets it); 0 when nothing was signalled */
  count(efd: number): bigint {
    const b = new Uint8Array(8);
    try {
      this.sys.read(efd, b);
    } catch (e) {
      if (e instanceof Errno && e.code === "EAGAIN") return 0n;
      throw e;
    }
    return new DataView(b.buffer).getBigUint64(0, true);
  }
}

describe("mtty driver: binding and device info", () => {
  it("binds the serial model as an mdev named by UUID with driver mtty", () => {
    const d = viaGroup();
    const dev = d.m.devices[0]!;
    expect(dev.driver).toBeInstanceOf(MttyDriver);
    expect(dev.address).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(d.sys.readdir("/sys/bus/mdev/devices")).toContain(dev.address);
    expect(d.sys.readlink(`/sys/bus/mdev/devices/${dev.address}/driver`)).toMatch(/\/mtty$/);
    expect(dev.driver.requesterId).toBeNull();
    expect(dev.driver.pinnedPageDirtyScope).toBe(true);
  });

  it("GET_INFO: PCI only (no RESET flag), 9 regions, 5 irqs; 16 bytes written back", () => {
    const d = viaGroup();
    const info = d.info();
    expect(info.flags).toBe(VFIO_DEVICE_FLAGS.bits.PCI);
    expect(info.num_regions).toBe(9);
    expect(info.num_irqs).toBe(5);
    expect(info.argsz).toBe(vfio_device_info.size);
    expect(info.cap_offset).toBe(0xabcd);
    expect(d.info(16).num_irqs).toBe(5);
    expect(errno(() => d.info(15))).toBe("EINVAL");
  });

  it("unknown ioctls are ENOTTY; mmap is EINVAL", () => {
    const d = viaGroup();
    // GET_PCI_HOT_RESET_INFO and IOEVENTFD are vfio-pci's, not mtty's
    expect(errno(() => d.sys.ioctl(d.fd, IO(VFIO.VFIO_TYPE, VFIO.VFIO_BASE + 12), new Uint8Array(16)))).toBe("ENOTTY");
    expect(errno(() => d.sys.ioctl(d.fd, IO(VFIO.VFIO_TYPE, VFIO.VFIO_BASE + 16), new Uint8Array(32)))).toBe("ENOTTY");
    expect(errno(() => d.sys.mmap(d.fd, 4096, MMAP.PROT_READ, MMAP.MAP_SHARED, 0n))).toBe("EINVAL");
  });
});

describe("mtty driver: regions", () => {
  it("trap 16: the config region is 255 bytes, not 256", () => {
    const d = viaGroup();
    const cfg = d.region(CONFIG);
    expect(cfg.size).toBe(0xffn);
    expect(cfg.offset).toBe(7n << SHIFT);
    expect(cfg.flags).toBe(VFIO_REGION_INFO_FLAG.bits.READ | VFIO_REGION_INFO_FLAG.bits.WRITE);
  });

  it("BAR0 is 8 bytes; BAR1 only with two ports; every index below 9 answers R|W; no MMAP, no caps", () => {
    const one = viaGroup(1);
    const two = viaGroup(2);
    const RW = VFIO_REGION_INFO_FLAG.bits.READ | VFIO_REGION_INFO_FLAG.bits.WRITE;
    expect([0, 1, 2, 3, 4, 5, 6, 8].map((i) => one.region(i).size)).toEqual([8n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
    expect([0, 1, 2].map((i) => two.region(i).size)).toEqual([8n, 8n, 0n]);
    for (let i = 0; i < 9; i++) {
      const r = one.region(i);
      expect(r.flags).toBe(RW);
      expect(r.offset).toBe(BigInt(i) << SHIFT);
      expect(r.index).toBe(i);
      // no capability chain: cap_offset is left as the caller passed it
      expect(r.cap_offset).toBe(0x77);
    }
    expect(errno(() => one.region(9))).toBe("EINVAL");
    expect(errno(() => one.region(0, 31))).toBe("EINVAL");
  });

  it("config contents: the model's identity in mtty's layout", () => {
    const d = viaGroup();
    const cfg = d.read(CONFIG, 0, 255);
    const dir = `/sys/bus/mdev/devices/${d.m.devices[0]!.address}`;
    const v = new DataView(cfg.buffer);
    expect(v.getUint16(0, true)).toBe(parseInt(d.sys.readFile(`${dir}/vendor`), 16));
    expect(v.getUint16(2, true)).toBe(parseInt(d.sys.readFile(`${dir}/device`), 16));
    expect(v.getUint16(4, true)).toBe(0x0001);
    expect(v.getUint16(6, true)).toBe(0x0200);
    expect(cfg[8]).toBe(0x10);
    expect([cfg[9], cfg[10], cfg[11]]).toEqual([0x02, 0x00, 0x07]);
    expect(v.getUint32(0x10, true)).toBe(1);
    expect(v.getUint32(0x14, true)).toBe(0);
    expect(v.getUint32(0x2c, true)).toBe(v.getUint32(0, true));
    expect(cfg[0x34]).toBe(0);
    expect(cfg[0x3d]).toBe(1);
    expect(new TextDecoder().decode(cfg.subarray(0x60, 0x6f))).toBe("PCI Serial/UART");
    // the last dword straddles the end: its fourth byte does not exist
    expect(Array.from(d.read(CONFIG, 0xfc, 4))).toEqual([cfg[0xfc], cfg[0xfd], cfg[0xfe], 0]);
  });

  it("config writes: BAR sizing and addresses, Interrupt Line; everything else is read-only", () => {
    const d = viaGroup(1);
    d.setCfg32(0x10, 0xffffffff);
    expect(d.cfg32(0x10)).toBe(0xfffffff9);
    d.setCfg32(0x10, 0xc000);
    expect(d.cfg32(0x10)).toBe(0xc001);
    // a one-port device has no BAR1; BAR2..4 read 0 after any write
    d.setCfg32(0x14, 0xffffffff);
    expect(d.cfg32(0x14)).toBe(0);
    d.setCfg32(0x18, 0xffffffff);
    expect(d.cfg32(0x18)).toBe(0);
    d.write(CONFIG, 0x3c, [0x0b]);
    d.write(CONFIG, 0x3d, [0x04]);
    expect(Array.from(d.read(CONFIG, 0x3c, 2))).toEqual([0x0b, 0x01]);
    d.write(CONFIG, 0x04, [0x07, 0x00]);
    expect(d.cfg32(0x04) & 0xffff).toBe(0x0001);
    d.setCfg32(0x00, 0);
    expect(d.cfg32(0x00)).not.toBe(0);
    // an 8-byte write is two dword accesses: BAR0 and BAR1
    const two = viaGroup(2);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, 0xffffffff, true);
    new DataView(b.buffer).setUint32(4, 0xd000, true);
    two.sys.pwrite(two.fd, b, (7n << SHIFT) + 0x10n);
    expect([two.cfg32(0x10), two.cfg32(0x14)]).toEqual([0xfffffff9, 0xd001]);
  });

  it("BAR accesses reach the UART: loopback through the FIFO, one register per access", () => {
    const d = viaGroup();
    d.write(0, UART_SCR, [0x5a]);
    expect(d.read(0, UART_SCR, 1)[0]).toBe(0x5a);
    expect(d.read(0, UART_LSR, 1)[0]! & UART_LSR_DR).toBe(0);
    d.write(0, 0, [0x41]);
    d.write(0, 0, [0x42]);
    expect(d.read(0, UART_LSR, 1)[0]! & UART_LSR_DR).toBe(UART_LSR_DR);
    // a 4-byte read at 0 is one access to RX: one byte consumed, the rest 0
    expect(Array.from(d.read(0, 0, 4))).toEqual([0x41, 0, 0, 0]);
    expect(d.read(0, 0, 1)[0]).toBe(0x42);
    // an 8-byte read is two accesses: RX at 0 and MCR at 4
    d.write(0, UART_MCR, [0x03]);
    expect(Array.from(d.read(0, 0, 8))).toEqual([0, 0, 0, 0, 0x03, 0, 0, 0]);
    // LCR with DLAB: RX/IER become the divisor
    d.write(0, UART_LCR, [0x83]);
    d.write(0, 0, [0x0c]);
    d.write(0, UART_IER, [0x00]);
    expect(Array.from(d.read(0, 0, 2))).toEqual([0x0c, 0]);
  });

  it("each BAR is its own port; regions without a port behind them are EFAULT", () => {
    const two = viaGroup(2);
    two.write(1, UART_SCR, [0x11]);
    two.write(0, UART_SCR, [0x22]);
    expect([two.read(0, UART_SCR, 1)[0], two.read(1, UART_SCR, 1)[0]]).toEqual([0x22, 0x11]);
    const one = viaGroup(1);
    expect(errno(() => one.write(1, 0, [1]))).toBe("EFAULT");
    expect(errno(() => one.read(2, 0, 1))).toBe("EFAULT");
    expect(errno(() => one.read(6, 0, 4))).toBe("EFAULT");
    expect(errno(() => one.read(8, 0, 4))).toBe("EFAULT");
    expect(errno(() => one.read(9, 0, 4))).toBe("EFAULT");
    expect(one.sys.pread(one.fd, new Uint8Array(0), 6n << SHIFT)).toBe(0);
  });
});

describe("mtty driver: interrupts", () => {
  it("GET_IRQ_INFO: INTx and MSI only, count 1; others EINVAL", () => {
    const d = viaGroup();
    d.info();
    const { EVENTFD, MASKABLE, AUTOMASKED, NORESIZE } = VFIO_IRQ_INFO.bits;
    expect(d.irq(INTX)).toMatchObject({ flags: EVENTFD | MASKABLE | AUTOMASKED, count: 1, index: INTX });
    expect(d.irq(MSI)).toMatchObject({ flags: EVENTFD | NORESIZE, count: 1, index: MSI });
    for (const i of [MSIX, ERR, REQ, 5, 100]) expect(errno(() => d.irq(i))).toBe("EINVAL");
    expect(errno(() => d.irq(INTX, 15))).toBe("EINVAL");
  });

  it("the index check uses num_irqs cached by GET_INFO: before the first GET_INFO every index is EINVAL", () => {
    const d = viaGroup();
    const efd = d.eventfd();
    expect(errno(() => d.irq(INTX))).toBe("EINVAL");
    expect(errno(() => d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [efd]))).toBe("EINVAL");
    d.info();
    expect(d.irq(INTX).count).toBe(1);
    expect(d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [efd])).toBe(0);
    // the cache belongs to the mdev: it survives close and reopen
    d.sys.close(d.fd);
    const again = new Dev(d.m, d.sys.ioctl(d.group, IOCTL.VFIO_GROUP_GET_DEVICE_FD, new TextEncoder().encode(d.m.devices[0]!.address + "\0")));
    expect(again.irq(MSI).count).toBe(1);
  });

  it("SET_IRQS INTx: a UART receive interrupt reaches the eventfd; automasked until UNMASK", () => {
    const d = viaGroup();
    d.info();
    const efd = d.eventfd();
    expect(d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [efd])).toBe(0);
    expect((d.m.devices[0]!.driver as MttyDriver).interruptType).toBe("intx");
    d.write(0, UART_IER, [UART_IER_RDI]);
    d.uart.receive(0, [0x61]);
    expect(d.count(efd)).toBe(1n);
    // masked after firing: the next byte (drained first) does not signal
    d.read(0, 0, 1);
    d.uart.receive(0, [0x62]);
    expect(d.count(efd)).toBe(0n);
    expect(d.setIrqs(DATA_NONE | ACTION_UNMASK, INTX, 0, 1)).toBe(0);
    // unmask does not replay anything
    expect(d.count(efd)).toBe(0n);
    d.read(0, 0, 1);
    d.uart.receive(0, [0x63]);
    expect(d.count(efd)).toBe(1n);
    // MASK blocks; BOOL false does nothing, true unmasks
    d.setIrqs(DATA_NONE | ACTION_UNMASK, INTX, 0, 1);
    d.setIrqs(DATA_NONE | ACTION_MASK, INTX, 0, 1);
    d.setIrqs(DATA_NONE | ACTION_TRIGGER, INTX, 0, 1);
    expect(d.count(efd)).toBe(0n);
    d.setIrqs(DATA_BOOL | ACTION_UNMASK, INTX, 0, 1, [0]);
    d.setIrqs(DATA_NONE | ACTION_TRIGGER, INTX, 0, 1);
    expect(d.count(efd)).toBe(0n);
    d.setIrqs(DATA_BOOL | ACTION_UNMASK, INTX, 0, 1, [1]);
    // loopback trigger signals and automasks
    d.setIrqs(DATA_BOOL | ACTION_TRIGGER, INTX, 0, 1, [1]);
    d.setIrqs(DATA_NONE | ACTION_TRIGGER, INTX, 0, 1);
    expect(d.count(efd)).toBe(1n);
  });

  it("SET_IRQS INTx rules: no mask/unmask eventfds, start 0 count 1, disable with count 0", () => {
    const d = viaGroup();
    d.info();
    const efd = d.eventfd();
    expect(errno(() => d.setIrqs(DATA_NONE | ACTION_MASK, INTX, 0, 1))).toBe("EINVAL");
    expect(errno(() => d.setIrqs(DATA_NONE | ACTION_TRIGGER, INTX, 0, 1))).toBe("EINVAL");
    expect(errno(() => d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 2, [efd, efd]))).toBe("EINVAL");
    expect(errno(() => d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 1, 1, [efd]))).toBe("EINVAL");
    d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [efd]);
    expect(errno(() => d.setIrqs(DATA_EVENTFD | ACTION_MASK, INTX, 0, 1, [efd]))).toBe("ENOTTY");
    expect(errno(() => d.setIrqs(DATA_EVENTFD | ACTION_UNMASK, INTX, 0, 1, [efd]))).toBe("ENOTTY");
    expect(errno(() => d.setIrqs(DATA_NONE | ACTION_MASK, INTX, 0, 0))).toBe("EINVAL");
    // no action, or two, matches nothing: success, no effect
    expect(d.setIrqs(DATA_NONE, INTX, 0, 1)).toBe(0);
    expect(d.setIrqs(DATA_NONE | ACTION_MASK | ACTION_TRIGGER, INTX, 0, 1)).toBe(0);
    expect(d.count(efd)).toBe(0n);
    // disable, then loopback has nothing to trigger
    expect(d.setIrqs(DATA_NONE | ACTION_TRIGGER, INTX, 0, 0)).toBe(0);
    expect((d.m.devices[0]!.driver as MttyDriver).interruptType).toBe("none");
    expect(errno(() => d.setIrqs(DATA_NONE | ACTION_TRIGGER, INTX, 0, 1))).toBe("EINVAL");
    // fd -1 tears down; a bad fd leaves INTx off
    d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [efd]);
    expect(d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [-1])).toBe(0);
    expect((d.m.devices[0]!.driver as MttyDriver).interruptType).toBe("none");
    d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [efd]);
    expect(errno(() => d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [999]))).toBe("EBADF");
    expect((d.m.devices[0]!.driver as MttyDriver).interruptType).toBe("none");
    expect(errno(() => d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [d.fd]))).toBe("EINVAL");
  });

  it("SET_IRQS MSI: every receive interrupt signals (no automask); only one interrupt type at a time", () => {
    const d = viaGroup();
    d.info();
    const msi = d.eventfd();
    const intx = d.eventfd();
    expect(d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, MSI, 0, 1, [msi])).toBe(0);
    expect((d.m.devices[0]!.driver as MttyDriver).interruptType).toBe("msi");
    d.write(0, UART_IER, [UART_IER_RDI]);
    d.uart.receive(0, [1]);
    d.read(0, 0, 1);
    d.uart.receive(0, [2]);
    expect(d.count(msi)).toBe(2n);
    d.setIrqs(DATA_NONE | ACTION_TRIGGER, MSI, 0, 1);
    expect(d.count(msi)).toBe(1n);
    expect(errno(() => d.setIrqs(DATA_NONE | ACTION_MASK, MSI, 0, 1))).toBe("ENOTTY");
    expect(errno(() => d.setIrqs(DATA_NONE | ACTION_UNMASK, MSI, 0, 1))).toBe("ENOTTY");
    expect(errno(() => d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [intx]))).toBe("EINVAL");
    expect(d.setIrqs(DATA_NONE | ACTION_TRIGGER, MSI, 0, 0)).toBe(0);
    expect(d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [intx])).toBe(0);
    expect(errno(() => d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, MSI, 0, 1, [msi]))).toBe("EINVAL");
  });

  it("SET_IRQS on MSI-X, ERR and REQ is ENOTTY after the core's validation", () => {
    const d = viaGroup();
    d.info();
    for (const i of [MSIX, ERR, REQ]) expect(errno(() => d.setIrqs(DATA_NONE | ACTION_TRIGGER, i, 0, 1))).toBe("ENOTTY");
    // the core checks start/count against num_irqs (5) for every index
    expect(errno(() => d.setIrqs(DATA_NONE | ACTION_TRIGGER, MSIX, 5, 0))).toBe("EINVAL");
    expect(errno(() => d.setIrqs(DATA_NONE | ACTION_TRIGGER, 5, 0, 1))).toBe("EINVAL");
    expect(errno(() => d.setIrqs(DATA_NONE | DATA_BOOL | ACTION_TRIGGER, INTX, 0, 1))).toBe("EINVAL");
  });

  it("last close disables interrupts", () => {
    const d = viaGroup();
    d.info();
    const efd = d.eventfd();
    d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, MSI, 0, 1, [efd]);
    d.sys.close(d.fd);
    expect(d.uart.interruptMode).toBe("none");
    d.uart.receive(0, [1]);
    expect(d.count(efd)).toBe(0n);
  });
});

describe("mtty driver: cdev + iommufd", () => {
  it("works through a bound cdev: info, regions, a receive interrupt", () => {
    const d = viaCdev();
    expect(d.info().num_irqs).toBe(5);
    expect(d.region(CONFIG).size).toBe(0xffn);
    const efd = d.eventfd();
    d.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, INTX, 0, 1, [efd]);
    d.write(0, UART_IER, [UART_IER_RDI]);
    d.uart.receive(0, [7]);
    expect(d.count(efd)).toBe(1n);
    expect(d.read(0, 0, 1)[0]).toBe(7);
    expect(d.setState("STOP_COPY")).toBeGreaterThan(0);
  });
});

const ALL: MigStateName[] = ["RUNNING", "STOP", "RUNNING_P2P", "STOP_COPY", "RESUMING", "PRE_COPY", "PRE_COPY_P2P"];

describe("mtty driver: migration", () => {
  it("offers STOP_COPY | P2P | PRE_COPY; MIG_DATA_SIZE is header + ports", () => {
    const d = viaGroup();
    const flags = vfio_device_feature_migration.decode(d.feature(GET | F.MIGRATION, new Uint8Array(8))).flags;
    const { STOP_COPY, P2P, PRE_COPY } = VFIO_MIGRATION.bits;
    expect(Number(flags)).toBe(STOP_COPY | P2P | PRE_COPY);
    expect(vfio_device_feature_mig_data_size.decode(d.feature(GET | F.MIG_DATA_SIZE, new Uint8Array(8))).stop_copy_length).toBe(60n);
    const two = viaGroup(2);
    expect(vfio_device_feature_mig_data_size.decode(two.feature(GET | F.MIG_DATA_SIZE, new Uint8Array(8))).stop_copy_length).toBe(96n);
  });

  it("every direct arc works; a new data fd exactly where a session starts", () => {
    const arcs = directArcs(VFIO_MIGRATION.bits.STOP_COPY | VFIO_MIGRATION.bits.P2P | VFIO_MIGRATION.bits.PRE_COPY);
    expect(arcs.length).toBe(15);
    const starts = new Set(["RUNNING>PRE_COPY", "RUNNING_P2P>PRE_COPY_P2P", "STOP>STOP_COPY", "STOP>RESUMING"]);
    const d = viaGroup();
    for (const [from, to] of arcs) {
      d.reset();
      const fd = d.setState(from);
      if (from === "RESUMING") d.sys.write(fd, d.uart.save());
      const out = d.setState(to);
      expect(d.state(), `${from} -> ${to}`).toBe(to);
      if (starts.has(`${from}>${to}`)) expect(out, `${from} -> ${to}`).toBeGreaterThan(0);
      else expect(out, `${from} -> ${to}`).toBe(-1);
    }
  });

  it("every state reaches every other through the core (STOP_COPY -> PRE_COPY* is EINVAL)", () => {
    const d = viaGroup();
    for (const from of ALL) {
      for (const to of ALL) {
        d.reset();
        const fd = d.setState(from);
        if (from === "RESUMING") d.sys.write(fd, d.uart.save());
        const bad = from === "STOP_COPY" && (to === "PRE_COPY" || to === "PRE_COPY_P2P");
        if (bad) {
          expect(errno(() => d.setState(to))).toBe("EINVAL");
          expect(d.state()).toBe("STOP_COPY");
        } else {
          d.setState(to);
          expect(d.state(), `${from} -> ${to}`).toBe(to);
        }
      }
    }
  });

  it("PRE_COPY: the header only, PRECOPY_INFO counts it down, then read returns 0 (not ENOMSG); STOP_COPY appends the ports on the same fd", () => {
    const d = viaGroup();
    const fd = d.setState("PRE_COPY");
    expect(fd).toBeGreaterThan(0);
    expect(d.precopy(fd)).toMatchObject({ initial_bytes: 24n, dirty_bytes: 0n });
    const first = d.readData(fd, 10);
    expect(first.length).toBe(10);
    expect(d.precopy(fd)).toMatchObject({ initial_bytes: 14n, dirty_bytes: 0n });
    const rest = d.readData(fd, 100);
    expect(rest.length).toBe(14);
    expect(d.precopy(fd)).toMatchObject({ initial_bytes: 0n, dirty_bytes: 0n });
    expect(d.readData(fd)).toHaveLength(0);
    expect(d.readData(fd)).toHaveLength(0);
    const header = new DataView(Uint8Array.from([...first, ...rest]).buffer);
    expect(header.getBigUint64(0, true)).toBe(0x7e9d09898c3e2c4en);
    expect([header.getUint32(8, true), header.getUint32(12, true), header.getUint32(16, true), header.getUint32(20, true)]).toEqual([1, 0, 1, 0]);
    expect(d.setState("PRE_COPY_P2P")).toBe(-1);
    expect(d.precopy(fd).initial_bytes).toBe(0n);
    expect(d.setState("STOP_COPY")).toBe(-1);
    expect(errno(() => d.precopy(fd))).toBe("EINVAL");
    const ports = d.readAll(fd);
    expect(ports.length).toBe(PORT_BYTES);
    expect(d.readData(fd)).toHaveLength(0);
    d.setState("STOP");
    expect(errno(() => d.readData(fd))).toBe("ENODEV");
  });

  it("STOP_COPY from STOP gives header and ports at once", () => {
    const d = viaGroup(2);
    const fd = d.setState("STOP_COPY");
    expect(d.readAll(fd).length).toBe(HEADER_BYTES + 2 * PORT_BYTES);
  });

  it("saves from one serial instance and resumes into a second with equal state", () => {
    for (const ports of [1, 2]) {
      const src = viaGroup(ports);
      const dst = viaGroup(ports, { seed: 7 });
      // give the source some UART state: divisor, line control, IER, scratch, bytes in the FIFO
      for (let p = 0; p < ports; p++) {
        src.write(p, UART_LCR, [0x83]);
        src.write(p, 0, [0x01 + p]);
        src.write(p, UART_LCR, [0x03]);
        src.write(p, UART_IER, [UART_IER_RDI]);
        src.write(p, UART_SCR, [0x99 - p]);
        src.write(p, 0, [0x10, 0x20, 0x30].map((b) => b + p).slice(0, 1));
        src.uart.receive(p, [0x40 + p, 0x50 + p]);
      }
      expect(Buffer.from(src.uart.save()).equals(Buffer.from(dst.uart.save()))).toBe(false);
      const pre = src.setState("PRE_COPY");
      const stream = [...src.readAll(pre)];
      src.setState("STOP_COPY");
      stream.push(...src.readAll(pre));
      expect(stream.length).toBe(HEADER_BYTES + ports * PORT_BYTES);
      const rfd = dst.setState("RESUMING");
      // written in uneven pieces
      for (let at = 0; at < stream.length; at += 7) expect(dst.sys.write(rfd, Uint8Array.from(stream.slice(at, at + 7)))).toBe(Math.min(7, stream.length - at));
      dst.setState("RUNNING");
      expect(dst.state()).toBe("RUNNING");
      expect(Buffer.from(dst.uart.save()).equals(Buffer.from(src.uart.save()))).toBe(true);
      // the resumed FIFO is readable through the destination's BAR
      expect(dst.read(0, 0, 1)[0]).toBe(0x10);
    }
  });

  it("a bad header fails the write with EFAULT", () => {
    const d = viaGroup();
    const good = d.uart.save();
    for (const [at, v] of [
      [0, 0x00],
      [8, 2],
      [12, 1],
      [16, 2],
      [20, 1],
    ] as const) {
      d.reset();
      const fd = d.setState("RESUMING");
      const bad = good.slice();
      bad[at] = v;
      expect(errno(() => d.sys.write(fd, bad.subarray(0, HEADER_BYTES))), `byte ${at}`).toBe("EFAULT");
    }
    // a header that arrives in pieces is checked when its last byte arrives
    d.reset();
    const fd = d.setState("RESUMING");
    const bad = good.slice();
    bad[16] = 9;
    expect(d.sys.write(fd, bad.subarray(0, 20))).toBe(20);
    expect(errno(() => d.sys.write(fd, bad.subarray(20, 30)))).toBe("EFAULT");
  });

  it("too few bytes: RESUMING -> STOP is EINVAL and the device stays RESUMING; the rest can still come", () => {
    const d = viaGroup();
    const image = d.uart.save();
    const fd = d.setState("RESUMING");
    d.sys.write(fd, image.subarray(0, 40));
    expect(errno(() => d.setState("STOP"))).toBe("EINVAL");
    expect(d.state()).toBe("RESUMING");
    expect(errno(() => d.setState("RUNNING"))).toBe("EINVAL");
    expect(d.state()).toBe("RESUMING");
    d.sys.write(fd, image.subarray(40));
    d.setState("STOP");
    expect(d.state()).toBe("STOP");
    expect(errno(() => d.sys.write(fd, image.subarray(0, 1)))).toBe("ENODEV");
  });

  it("writing more than the maximum is ENOMEM", () => {
    const d = viaGroup();
    const fd = d.setState("RESUMING");
    expect(errno(() => d.sys.write(fd, new Uint8Array(61)))).toBe("ENOMEM");
    d.sys.write(fd, d.uart.save());
    expect(errno(() => d.sys.write(fd, new Uint8Array(1)))).toBe("ENOMEM");
  });

  it("RESET: works without the RESET flag, back to RUNNING, sessions end, the UART keeps its registers (as a real mtty does)", () => {
    const d = viaGroup();
    d.write(0, UART_SCR, [0x77]);
    const fd = d.setState("PRE_COPY");
    d.reset();
    expect(d.state()).toBe("RUNNING");
    expect(errno(() => d.readData(fd))).toBe("ENODEV");
    expect(d.read(0, UART_SCR, 1)[0]).toBe(0x77);
    // the config space is the driver's and is kept, as mtty keeps it
    d.write(CONFIG, 0x3c, [0x0a]);
    d.reset();
    expect(d.read(CONFIG, 0x3c, 1)[0]).toBe(0x0a);
  });

  it("last close ends the data sessions", () => {
    const d = viaGroup();
    const fd = d.setState("PRE_COPY");
    d.sys.close(d.fd);
    expect(errno(() => d.readData(fd))).toBe("ENODEV");
  });

  it("migration acts on a faulty wrapper when the machine asks for one (an arc that fails into ERROR)", () => {
    const d = viaGroup(1, { devices: [{ model: "serial", faulty: "arc-fails-to-error", faultyOptions: { arc: "startSave" } }] });
    expect(errno(() => d.setState("STOP_COPY"))).toBe("EIO");
    expect(d.state()).toBe("ERROR");
    // the UART behind the wrapper still answers, and RESET recovers the FSM
    d.write(0, UART_SCR, [3]);
    expect(d.read(0, UART_SCR, 1)[0]).toBe(3);
    d.reset();
    expect(d.state()).toBe("RUNNING");
  });

  it("with migration 'none' there is no migration; the v1 region does not exist for mtty", () => {
    const m = createMachine({ devices: [{ model: "serial", migration: "none" }] });
    expect(m.devices[0]!.driver.migration).toBeUndefined();
    expect(m.devices[0]!.driver.logging).toBeUndefined();
    expect(() => createMachine({ devices: [{ model: "serial", migration: "v1" }] })).toThrowError(/v1/);
  });
});

describe("mtty driver: DMA logging and features", () => {
  function control(d: Dev, pageSize: bigint) {
    const ranges = new Uint8Array(vfio_device_feature_dma_logging_range.size);
    ranges.set(vfio_device_feature_dma_logging_range.encode({ iova: 0n, length: 1n << 20n }));
    return { ranges, bytes: vfio_device_feature_dma_logging_control.encode({ page_size: pageSize, num_ranges: 1, ranges: d.sys.addressOf(ranges) }) };
  }

  function report(d: Dev) {
    const bitmap = new Uint8Array(32);
    const out = d.feature(GET | F.DMA_LOGGING_REPORT, vfio_device_feature_dma_logging_report.encode({ iova: 0n, length: 1n << 20n, page_size: 4096n, bitmap: d.sys.addressOf(bitmap) }));
    void out;
    return bitmap;
  }

  it("START / STOP succeed, the page size is echoed, REPORT never sets a bit", () => {
    const d = viaGroup();
    expect(d.feature(SET | PROBE | F.DMA_LOGGING_START)).toHaveLength(0);
    const c = control(d, 0x1000n);
    const out = d.feature(SET | F.DMA_LOGGING_START, c.bytes);
    expect(vfio_device_feature_dma_logging_control.decode(out).page_size).toBe(0x1000n);
    // a second START restarts rather than failing
    expect(vfio_device_feature_dma_logging_control.decode(d.feature(SET | F.DMA_LOGGING_START, control(d, 0x10000n).bytes)).page_size).toBe(0x10000n);
    for (let i = 0; i < 20; i++) d.write(0, 0, [i]);
    d.uart.receive(0, [1, 2, 3]);
    expect(report(d).every((b) => b === 0)).toBe(true);
    d.feature(SET | F.DMA_LOGGING_STOP);
    // REPORT without logging still succeeds, clean
    expect(report(d).every((b) => b === 0)).toBe(true);
  });

  it("no driver features: other indexes are ENOTTY (the core's answer when a driver has no device_feature op)", () => {
    const d = viaGroup();
    for (const index of [F.PCI_VF_TOKEN, F.LOW_POWER_ENTRY, F.LOW_POWER_EXIT, F.BUS_MASTER]) {
      expect(errno(() => d.feature(GET | index, new Uint8Array(16)))).toBe("ENOTTY");
    }
  });
});
