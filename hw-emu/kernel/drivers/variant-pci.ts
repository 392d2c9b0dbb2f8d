/**
 * Variant drivers: vfio-pci plus a device model's migration support, as the
 * kernel's mlx5_vfio_pci / hisi_acc_vfio_pci wrap vfio-pci-core, and an
 * mtty-like mediated-device driver for the serial model.
 */
import { Errno, VFIO_REGION_INFO_FLAG, VFIO_REGION_SUBTYPE, VFIO_REGION_TYPE, type Mapping } from "../../uapi/index.js";
import type { IntxLine } from "../../hw/pci/intx.js";
import type { MsiController } from "../../hw/msi.js";
import type { MsixController } from "../../hw/msix.js";
import type { MigratableDevice } from "../../hw/devices/migration.js";
import type { Kernel } from "../kernel.js";
import type { IoctlArg } from "../file.js";
import { VfioPciDriver, type VfioPciOptions } from "../vfio-pci/index.js";
import type { VfioDriver } from "../vfio/driver.js";
import { DeviceLoggingOps, DeviceMigrationOps } from "./device-migration.js";
import { V1_REGION_SIZE, V1MigrationRegion } from "./v1-migration-region.js";

export type MigrationInterface = "v2" | "v1" | "none";

export interface VariantOptions {
  kernel: Kernel;
  model: MigratableDevice;
  msix?: MsixController | null;
  msi?: MsiController | null;
  intx?: IntxLine | null;
  /** which migration uAPI the driver offers (default v2) */
  migration?: MigrationInterface;
  driverName?: string;
  vectors?: VfioPciOptions["vectors"];
}

function baseOptions(o: VariantOptions): VfioPciOptions {
  return {
    kernel: o.kernel,
    fn: o.model.fn,
    msix: o.msix ?? null,
    msi: o.msi ?? null,
    intx: o.intx ?? null,
    ...(o.vectors ? { vectors: o.vectors } : {}),
    ...(o.driverName ? { driverName: o.driverName } : {}),
  };
}

/** vfio-pci with the v2 migration uAPI (and DMA logging when the device can log). */
export function migrationDriver(o: VariantOptions): VfioPciDriver {
  const migration = new DeviceMigrationOps(o.model, o.kernel.user, { temporaryEnd: o.model.preCopyEmptyRead === "enomsg" ? "ENOMSG" : "zero" });
  const log = o.model.features.dmaLogging ? o.model.dmaLog : null;
  return new VfioPciDriver({ ...baseOptions(o), migration, ...(log ? { logging: new DeviceLoggingOps(log) } : {}) });
}

/** vfio-pci with the pre-5.18 v1 migration region at index 9. */
export class V1MigrationDriver extends VfioPciDriver {
  readonly v1: V1MigrationRegion;
  readonly v1RegionIndex: number;

  constructor(o: VariantOptions) {
    super(baseOptions(o));
    const region = new V1MigrationRegion(o.model);
    this.v1 = region;
    const { READ, WRITE } = VFIO_REGION_INFO_FLAG.bits;
    this.v1RegionIndex = this.addRegion({
      type: VFIO_REGION_TYPE.values.MIGRATION_DEPRECATED,
      subtype: VFIO_REGION_SUBTYPE.values.MIGRATION_DEPRECATED,
      size: BigInt(V1_REGION_SIZE),
      flags: READ | WRITE,
      read: (buf, pos) => {
        buf.set(region.read(Number(pos), buf.byteLength));
        return buf.byteLength;
      },
      write: (buf, pos) => {
        region.write(Number(pos), buf);
        return buf.byteLength;
      },
    });
  }

  protected override resetFunction(): void {
    super.resetFunction();
    this.v1.reset();
  }
}

/**
 * The serial model as an emulated-IOMMU mediated device, like the kernel's
 * mtty sample: a 255-byte config region, no DMA (no requester id, so nothing
 * is attached to an IOMMU), and type1 can report its dirty pages exactly
 * because it pins whatever it touches (it touches nothing).
 */
export class MdevDriver implements VfioDriver {
  readonly pinnedPageDirtyScope = true;
  readonly requesterId = null;
  readonly inner: VfioPciDriver;

  constructor(o: VariantOptions) {
    const migration = new DeviceMigrationOps(o.model, o.kernel.user, { temporaryEnd: o.model.preCopyEmptyRead === "enomsg" ? "ENOMSG" : "zero" });
    const log = o.model.features.dmaLogging ? o.model.dmaLog : null;
    this.inner = new VfioPciDriver({
      ...baseOptions(o),
      driverName: o.driverName ?? "mtty",
      configSize: 255,
      ...(o.migration === "none" ? {} : { migration }),
      ...(log ? { logging: new DeviceLoggingOps(log) } : {}),
    });
  }

  get driverName(): string {
    return this.inner.driverName;
  }
  get migration() {
    return this.inner.migration;
  }
  get logging() {
    return this.inner.logging;
  }
  open(): void {
    this.inner.open();
  }
  close(): void {
    this.inner.close();
  }
  ioctl(request: number, arg: IoctlArg): number {
    return this.inner.ioctl(request, arg);
  }
  pread(buf: Uint8Array, offset: bigint): number {
    return this.inner.pread(buf, offset);
  }
  pwrite(buf: Uint8Array, offset: bigint): number {
    return this.inner.pwrite(buf, offset);
  }
  mmap(length: number, prot: number, flags: number, offset: bigint): Mapping {
    return this.inner.mmap(length, prot, flags, offset);
  }
  feature(index: number, _flags: number, _payload: Uint8Array, _argsz: number): number {
    // mtty has no feature hook of its own: the core answers EINVAL for indexes it does not handle
    throw new Errno("EINVAL", `feature ${index} is not handled by ${this.driverName}`, "VFIO_DEVICE_FEATURE");
  }
}
