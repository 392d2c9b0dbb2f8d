/**
 * Variant drivers: vfio-pci plus a device model's migration support, as the
 * kernel's mlx5_vfio_pci / hisi_acc_vfio_pci wrap vfio-pci-core. The serial
 * mediated device has its own driver (mtty.ts).
 */
import { VFIO_REGION_INFO_FLAG, VFIO_REGION_SUBTYPE, VFIO_REGION_TYPE } from "../../uapi/index.js";
import type { IntxLine } from "../../hw/pci/intx.js";
import type { MsiController } from "../../hw/msi.js";
import type { MsixController } from "../../hw/msix.js";
import type { MigratableDevice } from "../../hw/devices/migration.js";
import type { Kernel } from "../kernel.js";
import { VfioPciDriver, type VfioPciOptions } from "../vfio-pci/index.js";
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
