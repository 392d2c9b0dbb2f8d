/**
 * An emulated host: hardware (memory, IOMMU, DMA engine, a PCI bus with device
 * models) and the kernel in front of it, with every device bound to a VFIO
 * driver and discoverable under /dev/vfio and /sys as on Linux. Userspace gets
 * `sys` (the syscall door) and nothing else; notebooks that want to watch or
 * disturb the hardware use `lab`, which real hardware does not have.
 */
import { Clock } from "../sim/clock.js";
import { Random } from "../sim/random.js";
import { GuestMemory } from "../hw/memory.js";
import { Iommu } from "../hw/iommu.js";
import { DmaEngine } from "../hw/dma.js";
import { PciBus } from "../hw/pci/bus.js";
import { PeerWindowSync } from "../hw/pci/p2p-windows.js";
import { ResourceAllocator, assignBars } from "../hw/pci/resources.js";
import { formatBdf, routingId } from "../hw/pci/address.js";
import { HardwareLab } from "../lab/hardware-lab.js";
import type { DeviceModelName } from "../lab/models.js";
import { NicVf } from "../hw/devices/nic-vf.js";
import { AccelVf } from "../hw/devices/accel-vf.js";
import { SerialMdev } from "../hw/devices/serial-mdev.js";
import { FaultyDevice, FAULT_RULES, faultApplies, type FaultRule, type FaultyOptions } from "../hw/devices/faulty.js";
import type { DeviceModel } from "../hw/devices/device-base.js";
import type { MigratableDevice } from "../hw/devices/migration.js";
import { Kernel } from "../kernel/kernel.js";
import { DeviceFile, VfioDevice } from "../kernel/vfio/device.js";
import { registerVfioGroup } from "../kernel/vfio/group.js";
import { registerVfioContainerNode } from "../kernel/vfio/container.js";
import { registerIommufdNode } from "../kernel/iommufd/context.js";
import { VfioPciDriver } from "../kernel/vfio-pci/index.js";
import { HostVectorPool } from "../kernel/vfio-pci/index.js";
import { V1MigrationDriver, migrationDriver, type MigrationInterface } from "../kernel/drivers/variant-pci.js";
import type { VfioDriver } from "../kernel/vfio/driver.js";
import { MttyDriver } from "../kernel/drivers/mtty.js";
import type { Syscalls } from "../uapi/index.js";

export type { DeviceModelName };

export interface DeviceSpec {
  model: DeviceModelName;
  /** a name for messages and the lab (default: the model and its index) */
  name?: string;
  /** nic: queue pairs (default 2) */
  queues?: number;
  /** nic: bytes of device state (default 1 MiB) */
  stateSize?: number;
  /** nic, accel: offer PRE_COPY (default true) */
  preCopy?: boolean;
  /** serial: 1 or 2 ports */
  ports?: number;
  /** break one migration rule on request (the conformance suite's faulty variants) */
  faulty?: FaultRule;
  faultyOptions?: FaultyOptions;
  /** which migration uAPI the driver offers: v2 (default), the pre-5.18 v1 region, or none */
  migration?: MigrationInterface;
}

export interface MachineOptions {
  /** seed of everything random in the machine (default 1) */
  seed?: number;
  /** host RAM in bytes; sparse, so only what is written costs memory (default 4 TiB, at most 8 TiB) */
  hostMemory?: number;
  /** whether the IOMMU tracks dirty pages (A/D bits), as GET_HW_INFO reports (default true) */
  iommuDirtyTracking?: boolean;
  /** share one simulated clock between machines (a migration source and destination) */
  clock?: Clock;
  devices?: DeviceSpec[];
  /** for messages */
  name?: string;
}

export interface MachineDevice {
  /** the model's name */
  name: string;
  /** PCI address, e.g. 0000:01:00.0, or the mdev UUID for the serial model */
  address: string;
  group: number;
  cdev: string;
  model: MigratableDevice;
  driver: VfioDriver;
  vfio: VfioDevice;
}

/** The machine's hardware, for the lab and for tests; userspace code never touches it. */
export interface MachineHardware {
  clock: Clock;
  rng: Random;
  memory: GuestMemory;
  iommu: Iommu;
  dma: DmaEngine;
  bus: PciBus;
}

const DEFAULT_HOST_MEMORY = 4 * 2 ** 40;
const FIRST_GROUP = 10;
const SERIAL_UUID_PREFIX = "83b8f4f2-509f-382f-3c1e-e6bfe0fa";

export class EmulatedMachine {
  readonly name: string;
  readonly hw: MachineHardware;
  readonly kernel: Kernel;
  readonly lab: HardwareLab;
  readonly devices: MachineDevice[] = [];
  private readonly alloc = new ResourceAllocator();
  private readonly vectors = new HostVectorPool();
  private nextSlot = 0;
  private nextCdev = 0;

  constructor(options: MachineOptions = {}) {
    this.name = options.name ?? "host";
    const clock = options.clock ?? new Clock();
    const rng = new Random(options.seed ?? 1);
    const memory = new GuestMemory({ size: options.hostMemory ?? DEFAULT_HOST_MEMORY });
    const iommu = new Iommu({ clock });
    const dma = new DmaEngine({ memory, iommu, clock });
    const bus = new PciBus();
    new PeerWindowSync(bus, dma.mmio);
    this.hw = { clock, rng, memory, iommu, dma, bus };
    this.kernel = new Kernel(memory, Number(memory.size), clock);
    this.lab = new HardwareLab({ clock, rng: rng.fork(), memory, iommu, dma });
    registerVfioContainerNode(this.kernel);
    registerIommufdNode(this.kernel, iommu, { dirtyTracking: options.iommuDirtyTracking ?? true });
    for (const spec of options.devices ?? []) this.addDevice(spec);
  }

  /** the door userspace uses */
  get sys(): Syscalls {
    return this.kernel;
  }

  get clock(): Clock {
    return this.hw.clock;
  }

  /** Plug in a device, bind it to its VFIO driver, and make it discoverable. */
  addDevice(spec: DeviceSpec): MachineDevice {
    const index = this.devices.length;
    const name = spec.name ?? `${spec.model}${index}`;
    const { clock, dma, bus } = this.hw;
    let model: DeviceModel;
    switch (spec.model) {
      case "nic":
        model = new NicVf({ name, dma, time: clock, queues: spec.queues ?? 2, stateSize: spec.stateSize ?? 1 << 20, seed: this.hw.rng.int(1, 0x7fff_ffff), preCopy: spec.preCopy ?? true });
        break;
      case "accel":
        model = new AccelVf({ name, dma, time: clock, preCopy: spec.preCopy ?? true });
        break;
      case "serial":
        model = new SerialMdev({ name, ports: spec.ports ?? 1, time: clock });
        break;
    }
    let device: MigratableDevice = model;
    if (spec.faulty) {
      if (!FAULT_RULES.includes(spec.faulty)) throw new Error(`unknown fault rule "${spec.faulty}"; known: ${FAULT_RULES.join(", ")}`);
      if (!faultApplies(spec.faulty, model)) throw new Error(`a ${spec.model} device cannot break "${spec.faulty}"`);
      device = new FaultyDevice(model, spec.faulty, spec.faultyOptions ?? {});
    }
    const slot = this.nextSlot++;
    const rid = routingId(1, slot, 0);
    bus.attach(model.fn, rid);
    assignBars(model.fn, this.alloc, {});
    const driver = this.bindDriver(spec, model, device);
    const group = FIRST_GROUP + index;
    const cdevIndex = this.nextCdev++;
    const address = spec.model === "serial" ? `${SERIAL_UUID_PREFIX}${index.toString(16).padStart(4, "0")}` : formatBdf(rid);
    const vfio = new VfioDevice(address, driver, cdevIndex, group);
    registerVfioGroup(this.kernel, this.hw.iommu, group, [vfio]);
    const cdev = `/dev/vfio/devices/vfio${cdevIndex}`;
    this.kernel.addDevice(cdev, () => new DeviceFile(this.kernel, vfio, "cdev"));
    this.publishSysfs(address, model, driver, group, cdevIndex);
    const entry: MachineDevice = { name, address, group, cdev, model: device, driver, vfio };
    this.devices.push(entry);
    return entry;
  }

  private bindDriver(spec: DeviceSpec, model: DeviceModel, device: MigratableDevice): VfioDriver {
    const irq = {
      msix: model instanceof NicVf ? model.msix : null,
      msi: model instanceof AccelVf ? model.msi : null,
    };
    const migration = spec.migration ?? "v2";
    if (spec.model === "serial") {
      if (!(model instanceof SerialMdev)) throw new Error(`${spec.model}: expected a serial mdev model`);
      if (migration === "v1") throw new Error("the serial mdev's driver (mtty) never had the v1 migration region: use v2 or none");
      return new MttyDriver({ kernel: this.kernel, model, device, migration: migration === "v2" });
    }
    if (migration === "v1") return new V1MigrationDriver({ kernel: this.kernel, model: device, ...irq, vectors: this.vectors });
    if (migration === "none") return new VfioPciDriver({ kernel: this.kernel, fn: model.fn, ...irq, vectors: this.vectors });
    return migrationDriver({ kernel: this.kernel, model: device, ...irq, vectors: this.vectors });
  }

  private publishSysfs(address: string, model: DeviceModel, driver: VfioDriver, group: number, cdevIndex: number): void {
    const fs = this.kernel.sysfs;
    const isPci = !address.includes("-");
    const dir = isPci ? `/sys/bus/pci/devices/${address}` : `/sys/bus/mdev/devices/${address}`;
    const hex = (n: number, w: number) => () => `0x${n.toString(16).padStart(w, "0")}\n`;
    fs.addFile(`${dir}/vendor`, hex(model.fn.configRead(0, 2), 4));
    fs.addFile(`${dir}/device`, hex(model.fn.configRead(2, 2), 4));
    fs.addFile(`${dir}/class`, hex(model.fn.configRead(8, 4) >>> 8, 6));
    fs.addLink(`${dir}/iommu_group`, `/sys/kernel/iommu_groups/${group}`);
    // an mdev is bound to its parent's mdev driver (mtty), listed on the mdev bus
    const drivers = isPci ? "/sys/bus/pci/drivers" : "/sys/bus/mdev/drivers";
    fs.addLink(`${dir}/driver`, `${drivers}/${driver.driverName}`);
    fs.mkdir(`${drivers}/${driver.driverName}`);
    fs.mkdir(`${dir}/vfio-dev/vfio${cdevIndex}`);
  }

  /** A device by name or address. */
  device(nameOrAddress: string): MachineDevice {
    const d = this.devices.find((x) => x.name === nameOrAddress || x.address === nameOrAddress);
    if (!d) throw new Error(`${this.name} has no device "${nameOrAddress}"; it has ${this.devices.map((x) => x.name).join(", ") || "none"}`);
    return d;
  }
}

/** Build a machine (the emulator backend's entry point). */
export function createMachine(options: MachineOptions = {}): EmulatedMachine {
  return new EmulatedMachine(options);
}
