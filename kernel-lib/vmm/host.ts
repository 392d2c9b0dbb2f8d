/**
 * The VMM's side of one host: its devices opened through the uAPI (a type1
 * container with groups, or iommufd with device cdevs), guest RAM as one
 * anonymous mmap DMA-mapped at IOVA 0, an eventfd per interrupt vector, config
 * space access, and the CPU dirty log that the host's hypervisor keeps for the
 * guest. The same class serves the migration source and the destination.
 *
 * Two things go around the uAPI, through the lab: the emulated kernel pins only
 * anonymous memory, so a peer's BAR cannot be DMA-mapped through MAP_DMA or IOAS_MAP
 * (Linux can map VM_PFNMAP ranges) and the lab installs the peer windows in the IOMMU
 * domain instead; and the simulator reads and writes guest RAM through the host memory
 * behind its mapping (see ram.ts). Mapping guest RAM, tracking and device state all go
 * through the uAPI.
 */
import { lab, type EmulatedMachine, type MachineDevice } from "../backends/emu.js";
import { EFD, MMAP, VFIO_PCI_IRQ, VFIO_PCI_REGION, type Syscalls } from "../../hw-emu/uapi/index.js";
import { Container, Group } from "../vfio/container.js";
import { Device, type CdevDevice, type Region } from "../vfio/device.js";
import { Iommufd, type Hwpt } from "../vfio/iommufd.js";
import { IommufdTracker, Type1Tracker, type DirtyTracker, type TrackedRange } from "../vfio/trackers.js";
import type { Migration } from "../vfio/migration.js";
import type { DmaLogging } from "../vfio/dma-logging.js";
import { VfioError } from "../vfio/errors.js";
import { interruptCapabilities, type InterruptCapabilities } from "../vfio/pci-capabilities.js";
import { GuestRam } from "./ram.js";

/** How the VMM puts its devices behind the IOMMU. */
export type IommuBackend = "iommufd" | "type1";

/** where peer BARs appear in the guest's (and the IOMMU's) address space */
export const P2P_IOVA_BASE = 2 ** 46;
/** IOVA distance between consecutive devices' peer windows */
export const P2P_IOVA_STRIDE = 2 ** 24;

/** Interrupt setup of one device, as the VMM programmed it. */
export interface IrqSetup {
  kind: "msix" | "msi";
  /** VFIO_PCI_MSIX_IRQ_INDEX or VFIO_PCI_MSI_IRQ_INDEX */
  index: number;
  /** vectors enabled (0..count-1) */
  count: number;
  /** one eventfd per vector */
  eventfds: number[];
}

export class HostDevice {
  irq: IrqSetup | null = null;
  private configRegion: Region | null = null;
  private caps: InterruptCapabilities | null = null;
  /** IOVA of this device's BAR0 as its peers see it, when it is a peer-to-peer target */
  p2pIova: number | null = null;

  constructor(
    readonly host: VmmHost,
    readonly index: number,
    readonly entry: MachineDevice,
    readonly device: Device,
  ) {}

  get name(): string {
    return this.entry.name;
  }

  /** the hardware model (through any faulty wrapper): what the simulated guest drives */
  get model(): lab.DeviceModel {
    return lab.modelOf(this.entry.model);
  }

  get migration(): Migration {
    const m = this.device.migration;
    if (!m) throw new Error(`${this.name} has no migration driver (VFIO_DEVICE_FEATURE_MIGRATION answered ENOTTY)`);
    return m;
  }

  get logging(): DmaLogging | null {
    return this.device.dmaLogging;
  }

  get config(): Region {
    this.configRegion ??= this.device.region(VFIO_PCI_REGION.VFIO_PCI_CONFIG_REGION_INDEX);
    return this.configRegion;
  }

  /** The config space as the VMM sees it through the config region. */
  readConfig(): Uint8Array {
    return this.config.read(0, Math.min(256, Number(this.config.info.size)));
  }

  readConfigU16(offset: number): number {
    const b = this.config.read(offset, 2);
    return b[0]! | (b[1]! << 8);
  }

  writeConfigU16(offset: number, v: number): void {
    this.config.write(offset, new Uint8Array([v & 0xff, (v >>> 8) & 0xff]));
  }

  /** The interrupt capabilities, found by walking the capability list as a driver does. */
  capabilities(): InterruptCapabilities {
    this.caps ??= interruptCapabilities(this.readConfig());
    return this.caps;
  }

  /** The interrupt type a guest driver of this device uses: MSI-X if present, else MSI. */
  interruptKind(): { kind: "msix" | "msi"; index: number; count: number } | null {
    const caps = this.capabilities();
    if (caps.msix) {
      const index = VFIO_PCI_IRQ.VFIO_PCI_MSIX_IRQ_INDEX;
      return { kind: "msix", index, count: this.device.irqInfo(index).count };
    }
    if (caps.msi) {
      const index = VFIO_PCI_IRQ.VFIO_PCI_MSI_IRQ_INDEX;
      return { kind: "msi", index, count: this.device.irqInfo(index).count };
    }
    return null;
  }

  /** SET_IRQS with a fresh eventfd for each of the first `count` vectors of the device's interrupt type. */
  enableInterrupts(count?: number): IrqSetup | null {
    const k = this.interruptKind();
    if (!k) return null;
    const n = count ?? k.count;
    const sys = this.host.sys;
    const eventfds = Array.from({ length: n }, () => sys.eventfd(0, EFD.EFD_NONBLOCK | EFD.EFD_CLOEXEC));
    const short = this.device.setIrqEventfds(k.index, 0, eventfds);
    if (short > 0) {
      for (const fd of eventfds) sys.close(fd);
      throw new Error(`${this.name}: the host could give only ${short} of ${n} interrupt vectors`);
    }
    this.irq = { kind: k.kind, index: k.index, count: n, eventfds };
    return this.irq;
  }

  /** Vectors the device holds pending (MSI-X PBA read through its BAR region; MSI pending bits through config). */
  pendingVectors(): number[] {
    const caps = this.capabilities();
    const out: number[] = [];
    if (this.irq?.kind === "msix" && caps.msix) {
      const bytes = this.device.region(caps.msix.pbaBar).read(caps.msix.pbaOffset, Math.ceil(caps.msix.vectors / 64) * 8);
      for (let v = 0; v < caps.msix.vectors; v++) if ((bytes[v >> 3]! >> (v & 7)) & 1) out.push(v);
    } else if (this.irq?.kind === "msi" && caps.msi?.pendingOffset != null) {
      const b = this.config.read(caps.msi.pendingOffset, 4);
      const bits = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
      for (let v = 0; v < caps.msi.vectors; v++) if ((bits >>> v) & 1) out.push(v);
    }
    return out;
  }

  /** Read and reset every vector's eventfd; returns the counts (index = vector). */
  drainEventfds(): number[] {
    const irq = this.irq;
    if (!irq) return [];
    const counts = new Array<number>(irq.count).fill(0);
    const ready = this.host.sys.poll(
      irq.eventfds.map((fd) => ({ fd, events: 1 })),
      0,
    );
    if (ready.length === 0) return counts;
    const buf = new Uint8Array(8);
    for (const r of ready) {
      const v = irq.eventfds.indexOf(r.fd);
      this.host.sys.read(r.fd, buf);
      counts[v] = Number(new DataView(buf.buffer).getBigUint64(0, true));
    }
    return counts;
  }

  close(): void {
    const sys = this.host.sys;
    for (const fd of this.irq?.eventfds ?? []) {
      try {
        sys.close(fd);
      } catch {
        // already closed
      }
    }
    this.irq = null;
    this.device.close();
  }
}

export interface VmmHostOptions {
  /** bytes of guest RAM */
  ramSize: number;
  backend: IommuBackend;
  /** allocate the iommufd HWPT with dirty tracking when the IOMMU can (default true) */
  dirtyHwpt?: boolean;
}

export class VmmHost {
  readonly devices: HostDevice[] = [];
  readonly ram: GuestRam;
  /** the hypervisor's dirty log of guest CPU stores (KVM's part) */
  readonly cpu: lab.GuestDirtyLog;
  readonly backend: IommuBackend;
  private container: Container | null = null;
  private readonly groups: Group[] = [];
  private ictx: Iommufd | null = null;
  hwpt: Hwpt | null = null;
  private closed = false;

  private constructor(
    readonly machine: EmulatedMachine,
    options: VmmHostOptions,
  ) {
    this.backend = options.backend;
    const s = machine.sys;
    const mapping = s.mmap(-1, options.ramSize, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_PRIVATE | MMAP.MAP_ANONYMOUS | MMAP.MAP_NORESERVE, 0n);
    this.ram = new GuestRam(machine.lab.guestRam(mapping, options.ramSize), mapping);
    this.cpu = machine.lab.cpuDirtyLog();
  }

  /** Open every device of `machine` and map guest RAM for DMA (peer windows come later: mapPeerWindows). */
  static open(machine: EmulatedMachine, options: VmmHostOptions): VmmHost {
    const host = new VmmHost(machine, options);
    try {
      if (options.backend === "type1") host.openType1();
      else host.openIommufd(options.dirtyHwpt ?? true);
    } catch (e) {
      host.close();
      throw e;
    }
    return host;
  }

  get sys(): Syscalls {
    return this.machine.sys;
  }

  get ramRanges(): TrackedRange[] {
    return [{ iova: 0n, length: BigInt(this.ram.size) }];
  }

  private openType1(): void {
    const c = Container.open(this.sys);
    this.container = c;
    for (const entry of this.machine.devices) {
      const g = Group.open(this.sys, entry.group);
      this.groups.push(g);
      g.setContainer(c);
      if (this.groups.length === 1) c.setIommu();
      this.devices.push(new HostDevice(this, this.devices.length, entry, g.device(entry.address)));
    }
    // a container without groups cannot take an IOMMU: with no device there is nothing to map
    if (this.devices.length === 0) return;
    c.mapDma({ vaddr: this.ram.mapping.addr, iova: 0n, size: BigInt(this.ram.size) });
  }

  private openIommufd(dirtyHwpt: boolean): void {
    const ictx = Iommufd.open(this.sys);
    this.ictx = ictx;
    const bound: { device: CdevDevice; devId: number }[] = [];
    for (const entry of this.machine.devices) {
      const b = Device.openCdev(this.sys, entry.cdev).bind(ictx);
      bound.push(b);
      this.devices.push(new HostDevice(this, this.devices.length, entry, b.device));
    }
    const ioas = ictx.allocIoas();
    ioas.map({ userVa: this.ram.mapping.addr, length: BigInt(this.ram.size), iova: 0n });
    if (bound.length === 0) return;
    // QEMU asks for a dirty-tracking HWPT when the device's IOMMU reports the capability
    const dirty = dirtyHwpt && ictx.hwInfo(bound[0]!.devId).dirtyTracking;
    const hwpt = ictx.allocHwpt(bound[0]!.devId, ioas, { dirtyTracking: dirty });
    this.hwpt = hwpt;
    for (const b of bound) b.device.attach(hwpt.id);
  }

  /**
   * Map every device's BAR0 at its peer window, so devices can reach each other by
   * DMA. Call once memory decoding is on: until then vfio-pci has not put the BAR
   * addresses back after the open-time reset.
   */
  mapPeerWindows(): void {
    const first = this.devices[0];
    if (!first) return;
    // every device sits in the one domain the first one's DMA goes through
    for (const d of this.devices) {
      if (d.p2pIova !== null) continue;
      const iova = P2P_IOVA_BASE + d.index * P2P_IOVA_STRIDE;
      if (this.machine.lab.mapPeerBar(first.entry.model, d.entry.model, iova, { minSize: 4096 }) !== null) d.p2pIova = iova;
    }
  }

  /** The IOMMU's own dirty tracker for guest RAM, when the backend has one. */
  iommuTracker(): DirtyTracker | null {
    if (this.container) {
      return this.container.info().migration ? new Type1Tracker(this.container, this.ramRanges) : null;
    }
    if (this.hwpt?.dirtyCapable) return new IommufdTracker(this.hwpt, this.ramRanges);
    return null;
  }

  /** Close every fd: devices (vfio-pci resets them on last close), groups, container or iommufd. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const attempt = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        if (!(e instanceof VfioError)) throw e;
      }
    };
    for (const d of this.devices) attempt(() => d.close());
    for (const g of this.groups) attempt(() => g.close());
    if (this.container) attempt(() => this.container!.close());
    if (this.ictx) attempt(() => this.ictx!.close());
    attempt(() => this.sys.munmap(this.ram.mapping));
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
