/**
 * A VFIO device as the VFIO core holds it, and the fd userspace gets for it —
 * through a group (VFIO_GROUP_GET_DEVICE_FD) or through its cdev
 * (/dev/vfio/devices/vfioN, then VFIO_DEVICE_BIND_IOMMUFD).
 */
import {
  Errno,
  IOCTL,
  VFIO_DEVICE_ATTACH,
  VFIO_DEVICE_BIND_FLAG,
  VFIO_DEVICE_DETACH,
  copyInArgsz,
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_detach_iommufd_pt,
  unknownFlagBits,
  type Mapping,
} from "../../uapi/index.js";
import { KFile, type IoctlArg } from "../file.js";
import type { Kernel } from "../kernel.js";
import type { VfioDriver } from "./driver.js";
import { deviceFeature } from "./feature.js";
import { MigrationCore } from "./migration.js";
import { argBytes } from "../user-args.js";
import type { IommufdBinding } from "../iommufd/ictx.js";

export function isIommufdBinding(f: unknown): f is IommufdBinding & KFile {
  return f instanceof KFile && f.kind === "iommufd" && typeof (f as unknown as IommufdBinding).bindDevice === "function";
}

export class VfioDevice {
  readonly migration: MigrationCore | null;
  /** open device fds */
  openCount = 0;
  /** set while a cdev fd holds the device bound to an iommufd */
  binding: { ctx: IommufdBinding; devid: number } | null = null;
  /** whether the device's group is open; the group sets this when it registers the device */
  groupOpen: () => boolean = () => false;

  constructor(
    /** the name userspace passes to GROUP_GET_DEVICE_FD: a PCI address or an mdev UUID */
    readonly name: string,
    readonly driver: VfioDriver,
    /** N of /dev/vfio/devices/vfioN */
    readonly cdevIndex: number,
    /** N of /dev/vfio/N */
    readonly groupId: number,
  ) {
    this.migration = driver.migration ? new MigrationCore(driver.migration) : null;
  }

  /** first open: the driver prepares the device; migration starts RUNNING */
  acquire(): void {
    if (this.openCount++ === 0) {
      this.driver.open();
      this.migration?.reset();
    }
  }

  release(): void {
    if (--this.openCount === 0) {
      if (this.driver.logging) this.driver.logging.stop();
      this.driver.close();
    }
  }
}

/** Apply the driver's VF token rule; drivers without one refuse any token. */
export function checkToken(device: VfioDevice, token: Uint8Array | null, syscall: string): void {
  if (device.driver.matchToken) device.driver.matchToken(token);
  else if (token) throw new Errno("EINVAL", `${device.name} takes no VF token`, syscall);
}

export class DeviceFile extends KFile {
  readonly kind = "device" as const;
  readonly label: string;
  private position = 0n;
  /** a group-opened fd is usable at once; a cdev fd only after BIND_IOMMUFD */
  private accessGranted: boolean;

  constructor(
    private readonly kernel: Kernel,
    readonly device: VfioDevice,
    readonly openedVia: "group" | "cdev",
  ) {
    super();
    this.label = openedVia === "group" ? `anon_inode:[vfio-device]` : `/dev/vfio/devices/vfio${device.cdevIndex}`;
    this.accessGranted = openedVia === "group";
    if (this.accessGranted) device.acquire();
  }

  private requireAccess(syscall: string): void {
    if (!this.accessGranted) throw new Errno("EINVAL", "a device cdev must be bound to an iommufd (VFIO_DEVICE_BIND_IOMMUFD) first", syscall);
  }

  override ioctl(request: number, arg: IoctlArg): number {
    if (request === IOCTL.VFIO_DEVICE_BIND_IOMMUFD) return this.bind(arg);
    this.requireAccess("ioctl");
    switch (request) {
      case IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT:
        if (this.openedVia === "cdev") return this.attach(arg);
        break;
      case IOCTL.VFIO_DEVICE_DETACH_IOMMUFD_PT:
        if (this.openedVia === "cdev") return this.detach(arg);
        break;
      case IOCTL.VFIO_DEVICE_FEATURE:
        return deviceFeature(this.kernel, this.device, arg);
      case IOCTL.VFIO_DEVICE_RESET: {
        const r = this.device.driver.ioctl(request, arg);
        this.device.migration?.reset();
        return r;
      }
    }
    return this.device.driver.ioctl(request, arg);
  }

  private bind(arg: IoctlArg): number {
    const syscall = "VFIO_DEVICE_BIND_IOMMUFD";
    if (this.openedVia === "group") throw new Errno("EINVAL", "BIND_IOMMUFD is for cdev fds; this fd came from a group", syscall);
    const bytes = argBytes(this.kernel.user, arg, vfio_device_bind_iommufd.minsz, syscall);
    const { value, argsz } = copyInArgsz(vfio_device_bind_iommufd, bytes, syscall);
    const bad = unknownFlagBits("vfio_device_bind_iommufd", "flags", VFIO_DEVICE_BIND_FLAG, value.flags);
    if (bad) throw new Errno("EINVAL", bad, syscall);
    // Linux refuses a negative fd with the argument checks, before looking it up
    if (value.iommufd < 0) throw new Errno("EINVAL", `iommufd ${value.iommufd} is negative`, syscall);
    if (value.flags & VFIO_DEVICE_BIND_FLAG.bits.TOKEN && argsz < vfio_device_bind_iommufd.size) {
      throw new Errno("EINVAL", "the TOKEN flag needs the 24-byte struct with token_uuid_ptr", syscall);
    }
    // a bound cdev and an open group exclude each other (Linux's vfio_device_block_group)
    if (this.device.groupOpen()) throw new Errno("EBUSY", `the group of ${this.device.name} is open`, syscall);
    if (this.accessGranted) throw new Errno("EINVAL", "this fd is already bound", syscall);
    if (this.device.binding) throw new Errno("EBUSY", `${this.device.name} is already bound through another fd`, syscall);
    const ctx = this.kernel.file(value.iommufd, syscall);
    if (!isIommufdBinding(ctx)) throw new Errno("EBADFD", `fd ${value.iommufd} is a ${ctx.kind} fd, not an iommufd`, syscall);
    const token = value.flags & VFIO_DEVICE_BIND_FLAG.bits.TOKEN ? this.kernel.user.copyFromUser(value.token_uuid_ptr, 16, syscall) : null;
    checkToken(this.device, token, syscall);
    const devid = ctx.bindDevice(this.device);
    this.device.binding = { ctx, devid };
    this.device.acquire();
    this.accessGranted = true;
    bytes.set(vfio_device_bind_iommufd.encode({ ...value, argsz: value.argsz, out_devid: devid }).subarray(0, Math.min(argsz, vfio_device_bind_iommufd.size)));
    return 0;
  }

  private attach(arg: IoctlArg): number {
    const syscall = "VFIO_DEVICE_ATTACH_IOMMUFD_PT";
    const bytes = argBytes(this.kernel.user, arg, vfio_device_attach_iommufd_pt.minsz, syscall);
    const { value, argsz } = copyInArgsz(vfio_device_attach_iommufd_pt, bytes, syscall);
    const bad = unknownFlagBits("vfio_device_attach_iommufd_pt", "flags", VFIO_DEVICE_ATTACH, value.flags);
    if (bad) throw new Errno("EINVAL", bad, syscall);
    if (value.flags & VFIO_DEVICE_ATTACH.bits.PASID) throw new Errno("EOPNOTSUPP", "the emulated IOMMU has no PASID support", syscall);
    const { ctx, devid } = this.device.binding!;
    const hwpt = ctx.attachDevice(devid, value.pt_id);
    bytes.set(vfio_device_attach_iommufd_pt.encode({ ...value, pt_id: hwpt }).subarray(0, Math.min(argsz, vfio_device_attach_iommufd_pt.size)));
    return 0;
  }

  private detach(arg: IoctlArg): number {
    const syscall = "VFIO_DEVICE_DETACH_IOMMUFD_PT";
    const bytes = argBytes(this.kernel.user, arg, vfio_device_detach_iommufd_pt.minsz, syscall);
    const { value } = copyInArgsz(vfio_device_detach_iommufd_pt, bytes, syscall);
    const bad = unknownFlagBits("vfio_device_detach_iommufd_pt", "flags", VFIO_DEVICE_DETACH, value.flags);
    if (bad) throw new Errno("EINVAL", bad, syscall);
    if (value.flags & VFIO_DEVICE_DETACH.bits.PASID) throw new Errno("EOPNOTSUPP", "the emulated IOMMU has no PASID support", syscall);
    const { ctx, devid } = this.device.binding!;
    ctx.detachDevice(devid);
    return 0;
  }

  override read(buf: Uint8Array): number {
    const n = this.pread(buf, this.position);
    this.position += BigInt(n);
    return n;
  }

  override write(buf: Uint8Array): number {
    const n = this.pwrite(buf, this.position);
    this.position += BigInt(n);
    return n;
  }

  override pread(buf: Uint8Array, offset: bigint): number {
    this.requireAccess("pread");
    return this.device.driver.pread(buf, offset);
  }

  override pwrite(buf: Uint8Array, offset: bigint): number {
    this.requireAccess("pwrite");
    return this.device.driver.pwrite(buf, offset);
  }

  override mmap(length: number, prot: number, flags: number, offset: bigint): Mapping {
    this.requireAccess("mmap");
    return this.device.driver.mmap(length, prot, flags, offset);
  }

  override release(): void {
    if (!this.accessGranted) return;
    if (this.device.binding && this.openedVia === "cdev") {
      const { ctx, devid } = this.device.binding;
      ctx.unbindDevice(devid);
      this.device.binding = null;
    }
    this.device.release();
  }
}
