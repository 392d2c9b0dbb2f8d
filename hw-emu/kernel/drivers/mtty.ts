/**
 * The VFIO driver for the serial mediated device, behaving as the kernel's
 * mtty sample (samples/vfio-mdev/mtty.c) does towards userspace:
 *
 * - an emulated-IOMMU mdev: no DMA (no requester id), and type1 can report
 *   exact dirty pages because the driver pins whatever it touches (nothing);
 * - GET_INFO: flags PCI only (mtty does not advertise RESET, though
 *   VFIO_DEVICE_RESET works), 9 regions, 5 irqs; only the first 16 bytes are
 *   written back. The answer is also remembered: GET_IRQ_INFO and SET_IRQS
 *   check the index against the num_irqs of the last GET_INFO, so before the
 *   first GET_INFO on the mdev both fail EINVAL for every index;
 * - GET_REGION_INFO: every index below 9 answers R|W at `index << 40`, size
 *   0xff for CONFIG, 8 for BAR0 (and BAR1 with two ports), 0 otherwise; no
 *   capabilities, no mmap (mmap is EINVAL);
 * - region access is split into aligned 4/2/1-byte pieces; each piece is one
 *   register access at its start offset: CONFIG goes to the virtual config
 *   space, BARn to port n's UART (only the piece's first byte carries data; the
 *   other bytes of a read are 0). Regions that reach nothing are EFAULT;
 * - GET_IRQ_INFO / SET_IRQS as in mtty-irqs.ts, with the core's validation;
 * - RESET leaves the UART as it is; the migration core ends data sessions and
 *   returns to RUNNING;
 * - migration v2 with STOP_COPY | P2P | PRE_COPY through DeviceMigrationOps (a
 *   pre-copy read at the temporary end returns 0), DMA logging as dummy ops;
 *   no feature hook of its own, so other feature indexes are ENOTTY;
 * - last close ends data sessions and disables INTx and MSI; the UART state
 *   and the config space are kept.
 */
import { Errno, IOCTL, VFIO_DEVICE_FLAGS, VFIO_PCI_IRQ, VFIO_PCI_REGION, VFIO_REGION_INFO_FLAG, type Mapping, vfio_device_info, vfio_irq_info, vfio_irq_set, vfio_region_info } from "../../uapi/index.js";
import type { SerialMdev } from "../../hw/devices/serial-mdev.js";
import type { MigratableDevice } from "../../hw/devices/migration.js";
import type { IoctlArg } from "../file.js";
import type { Kernel } from "../kernel.js";
import type { LoggingOps, MigrationOps, VfioDriver } from "../vfio/driver.js";
import { argBytes } from "../user-args.js";
import { regionOffset, splitOffset } from "../vfio-pci/regions.js";
import { validateSetIrqs } from "../vfio-pci/set-irqs.js";
import { DeviceMigrationOps } from "./device-migration.js";
import { MTTY_IO_BAR_SIZE, MttyConfigSpace } from "./mtty-config.js";
import { MttyIrqs } from "./mtty-irqs.js";
import { MttyLoggingOps } from "./mtty-logging.js";

const NUM_REGIONS = VFIO_PCI_REGION.VFIO_PCI_NUM_REGIONS;
const NUM_IRQS = VFIO_PCI_IRQ.VFIO_PCI_NUM_IRQS;
const CONFIG = VFIO_PCI_REGION.VFIO_PCI_CONFIG_REGION_INDEX;
const BAR5 = VFIO_PCI_REGION.VFIO_PCI_BAR5_REGION_INDEX;
const { READ, WRITE } = VFIO_REGION_INFO_FLAG.bits;

export interface MttyOptions {
  kernel: Kernel;
  /** the UART model: its registers, interrupts and PCI identity */
  model: SerialMdev;
  /** what migration and DMA logging act on: the model itself (default) or a wrapper around it */
  device?: MigratableDevice;
  /** offer the v2 migration uAPI and DMA logging (default true; mtty before its migration support had neither) */
  migration?: boolean;
}

/** mtty's access pieces: 4 bytes when aligned and available, else 2, else 1. */
function pieceSize(pos: bigint, remaining: number): 1 | 2 | 4 {
  if (remaining >= 4 && pos % 4n === 0n) return 4;
  if (remaining >= 2 && pos % 2n === 0n) return 2;
  return 1;
}

export class MttyDriver implements VfioDriver {
  readonly driverName = "mtty";
  readonly pinnedPageDirtyScope = true;
  readonly requesterId = null;
  readonly migration: MigrationOps | undefined;
  readonly logging: LoggingOps | undefined;
  readonly model: SerialMdev;
  readonly config: MttyConfigSpace;
  private readonly kernel: Kernel;
  private readonly device: MigratableDevice;
  private readonly irqs: MttyIrqs;
  /** num_irqs from the last GET_INFO (0 before the first one), as mtty caches it */
  private knownIrqs = 0;

  constructor(opts: MttyOptions) {
    this.kernel = opts.kernel;
    this.model = opts.model;
    this.device = opts.device ?? opts.model;
    this.config = new MttyConfigSpace(this.model.fn, this.model.portCount);
    this.irqs = new MttyIrqs(this.kernel, this.model);
    if (opts.migration ?? true) {
      this.migration = new DeviceMigrationOps(this.device, this.kernel.user, { temporaryEnd: "zero" });
      const log = this.device.dmaLog;
      this.logging = log ? new MttyLoggingOps(log) : undefined;
    }
  }

  /** The interrupt type SET_IRQS enabled (lab observation). */
  get interruptType(): "none" | "intx" | "msi" {
    return this.irqs.activeType;
  }

  open(): void {
    // mtty has no open hook: the device keeps whatever state it had
  }

  close(): void {
    // the kernel's data fds end with the device's session; both then answer ENODEV
    this.device.session?.close();
    this.irqs.disableAll();
  }

  // ---- ioctls ----

  ioctl(request: number, arg: IoctlArg): number {
    switch (request) {
      case IOCTL.VFIO_DEVICE_GET_INFO:
        return this.getInfo(arg);
      case IOCTL.VFIO_DEVICE_GET_REGION_INFO:
        return this.getRegionInfo(arg);
      case IOCTL.VFIO_DEVICE_GET_IRQ_INFO:
        return this.getIrqInfo(arg);
      case IOCTL.VFIO_DEVICE_SET_IRQS:
        return this.setIrqs(arg);
      case IOCTL.VFIO_DEVICE_RESET:
        // mtty's reset is only the migration reset the VFIO core runs after this: sessions end,
        // the state is RUNNING again, and the UART keeps its registers and FIFO
        return 0;
    }
    throw new Errno("ENOTTY", `ioctl 0x${request.toString(16)} is not an mtty device ioctl`, "ioctl");
  }

  private getInfo(arg: IoctlArg): number {
    const syscall = "VFIO_DEVICE_GET_INFO";
    const minsz = vfio_device_info.minsz;
    const bytes = argBytes(this.kernel.user, arg, minsz, syscall);
    const argsz = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
    if (argsz < minsz) throw new Errno("EINVAL", `argsz ${argsz} is below ${minsz}`, syscall);
    this.knownIrqs = NUM_IRQS;
    const out = vfio_device_info.encode({ argsz, flags: VFIO_DEVICE_FLAGS.bits.PCI, num_regions: NUM_REGIONS, num_irqs: NUM_IRQS });
    bytes.set(out.subarray(0, minsz));
    return 0;
  }

  private regionSize(index: number): number {
    if (index === CONFIG) return this.config.size;
    if (index <= BAR5 && index < this.model.portCount) return MTTY_IO_BAR_SIZE;
    return 0;
  }

  private getRegionInfo(arg: IoctlArg): number {
    const syscall = "VFIO_DEVICE_GET_REGION_INFO";
    const minsz = vfio_region_info.minsz;
    const bytes = argBytes(this.kernel.user, arg, minsz, syscall);
    const req = vfio_region_info.decode(bytes);
    if (req.argsz < minsz) throw new Errno("EINVAL", `argsz ${req.argsz} is below ${minsz}`, syscall);
    if (req.index >= NUM_REGIONS) throw new Errno("EINVAL", `region index ${req.index} is not below ${NUM_REGIONS}`, syscall);
    // every index answers R|W, even an empty one; cap_offset is left as the caller passed it
    const out = { ...req, flags: READ | WRITE, size: BigInt(this.regionSize(req.index)), offset: regionOffset(req.index) };
    bytes.set(vfio_region_info.encode(out).subarray(0, minsz));
    return 0;
  }

  private getIrqInfo(arg: IoctlArg): number {
    const syscall = "VFIO_DEVICE_GET_IRQ_INFO";
    const minsz = vfio_irq_info.minsz;
    const bytes = argBytes(this.kernel.user, arg, minsz, syscall);
    const req = vfio_irq_info.decode(bytes);
    if (req.argsz < minsz) throw new Errno("EINVAL", `argsz ${req.argsz} is below ${minsz}`, syscall);
    if (req.index >= this.knownIrqs) {
      throw new Errno("EINVAL", this.knownIrqs ? `index ${req.index} is not below ${this.knownIrqs}` : "the driver knows no interrupts until VFIO_DEVICE_GET_INFO has been called", syscall);
    }
    const { flags, count } = this.irqs.info(req.index);
    bytes.set(vfio_irq_info.encode({ ...req, flags, count }).subarray(0, minsz));
    return 0;
  }

  private setIrqs(arg: IoctlArg): number {
    const bytes = argBytes(this.kernel.user, arg, vfio_irq_set.minsz, "VFIO_DEVICE_SET_IRQS");
    const hdr = vfio_irq_set.decode(bytes);
    // mtty passes its cached num_irqs as every index's vector count
    const data = validateSetIrqs(hdr, this.knownIrqs, NUM_IRQS, bytes);
    return this.irqs.set(hdr.flags, hdr.index, hdr.start, hdr.count, data);
  }

  // ---- region access ----

  pread(buf: Uint8Array, offset: bigint): number {
    return this.rw(buf, offset, false);
  }

  pwrite(buf: Uint8Array, offset: bigint): number {
    return this.rw(buf, offset, true);
  }

  private rw(buf: Uint8Array, offset: bigint, isWrite: boolean): number {
    let done = 0;
    while (done < buf.length) {
      const at = offset + BigInt(done);
      const n = pieceSize(at, buf.length - done);
      this.access(buf.subarray(done, done + n), at, isWrite);
      done += n;
    }
    return done;
  }

  /** One piece: a config or UART register access. */
  private access(piece: Uint8Array, offset: bigint, isWrite: boolean): void {
    const syscall = isWrite ? "pwrite" : "pread";
    const { index, pos } = splitOffset(offset);
    if (index === CONFIG) {
      const at = pos > 0xffffn ? 0xffff : Number(pos);
      if (isWrite) this.config.write(at, piece);
      else this.config.read(at, piece);
      return;
    }
    if (index <= BAR5) {
      // mtty would reach past its port array here; refuse instead
      if (index >= this.model.portCount) throw new Errno("EFAULT", `BAR${index} has no port behind it on a ${this.model.portCount}-port device`, syscall);
      const reg = Number(pos);
      if (isWrite) {
        this.model.portWrite(index, reg, piece[0]!);
      } else {
        piece.fill(0);
        piece[0] = this.model.portRead(index, reg);
      }
      return;
    }
    throw new Errno("EFAULT", `region ${index} cannot be accessed on this mdev (only CONFIG and the port BARs)`, syscall);
  }

  mmap(_length: number, _prot: number, _flags: number, offset: bigint): Mapping {
    throw new Errno("EINVAL", `this mdev has no mmap (offset 0x${offset.toString(16)})`, "mmap");
  }
}
