/**
 * VFIO groups, /dev/vfio/N: the unit of isolation the legacy container API
 * hands out. A group is opened by one file at a time, joins a container, and
 * gives out device fds once the container has an IOMMU backend.
 *
 * DMA ownership: joining a container claims the whole group, binding a device
 * cdev to an iommufd claims it for that iommufd context. The two exclude each
 * other (EPERM), as the IOMMU core's owner check does.
 *
 * Device fds keep their group file alive: closing the group fd while device
 * fds are open defers the group's release (leaving the container, freeing the
 * open slot) until the last of them closes.
 */
import { Errno, IOCTL, VFIO_GROUP_FLAGS, copyOut, vfio_group_status } from "../../uapi/index.js";
import type { Iommu } from "../../hw/iommu.js";
import { DmaOwnership, setDmaOwnership } from "../dma-owner.js";
import { KFile, type IoctlArg } from "../file.js";
import type { Kernel } from "../kernel.js";
import { ContainerFile } from "./container.js";
import { DeviceFile, checkToken, type VfioDevice } from "./device.js";
import type { Type1Group } from "./type1.js";
import { argBytes, copyInVfio } from "../user-args.js";

const PAGE = 4096;
const VF_TOKEN_ARG = "vf_token=";
const UUID_STRING_LEN = 36;
/** domain:bus:device.function, as PCI devices are named */
const PCI_NAME = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

const groupsByKernel = new WeakMap<Kernel, Map<number, VfioGroup>>();
const groupOfDevice = new WeakMap<VfioDevice, VfioGroup>();

/** The group a registered device belongs to. */
export function vfioGroupOf(device: VfioDevice): VfioGroup | undefined {
  return groupOfDevice.get(device);
}

export class VfioGroup implements Type1Group {
  /** the container this group joined, or null */
  container: ContainerFile | null = null;
  /** the file that has the group open (also while only its device fds keep it) */
  file: GroupFile | null = null;
  /** device fds obtained through this group that are still open */
  deviceFds = 0;
  /** who owns the group's DMA: its container, or an iommufd its devices are bound to */
  readonly dma: DmaOwnership;

  constructor(
    private readonly kernel: Kernel,
    readonly iommu: Iommu,
    readonly id: number,
    readonly devices: readonly VfioDevice[],
  ) {
    this.dma = new DmaOwnership(id, () => (this.container ? "by a container" : "by an iommufd"));
  }

  get requesterIds(): number[] {
    return this.devices.map((d) => d.driver.requesterId).filter((r): r is number => r !== null);
  }

  get pinnedScope(): boolean {
    return this.devices.every((d) => d.driver.pinnedPageDirtyScope);
  }

  /** open(2) of /dev/vfio/N */
  open(): GroupFile {
    if (this.file) throw new Errno("EBUSY", `group ${this.id} is already open`, "open");
    const bound = this.devices.find((d) => d.binding);
    if (bound) throw new Errno("EBUSY", `${bound.name} is bound to an iommufd through its cdev`, "open");
    this.file = new GroupFile(this.kernel, this);
    return this.file;
  }

  /** leave the container: detach from the backend and give up the DMA ownership */
  detachContainer(): void {
    const c = this.container;
    if (!c) return;
    c.detachGroup(this);
    this.dma.release(c);
    this.container = null;
  }

  /** the group file is gone once its fd is closed and no device fd holds it */
  settle(): void {
    if (this.file && this.file.fdClosed && this.deviceFds === 0) {
      this.detachContainer();
      this.file = null;
    }
  }
}

/** A device fd from GROUP_GET_DEVICE_FD, which holds its group file open. */
class GroupDeviceFile extends DeviceFile {
  constructor(
    kernel: Kernel,
    device: VfioDevice,
    private readonly group: VfioGroup,
  ) {
    super(kernel, device, "group");
    group.deviceFds++;
  }

  override release(): void {
    super.release();
    this.group.deviceFds--;
    this.group.settle();
  }
}

export class GroupFile extends KFile {
  readonly kind = "group" as const;
  readonly label: string;
  /** the process closed its fd (the file may live on through device fds) */
  fdClosed = false;

  constructor(
    private readonly kernel: Kernel,
    private readonly group: VfioGroup,
  ) {
    super();
    this.label = `/dev/vfio/${group.id}`;
  }

  override ioctl(request: number, arg: IoctlArg): number {
    switch (request) {
      case IOCTL.VFIO_GROUP_GET_STATUS:
        return this.getStatus(arg);
      case IOCTL.VFIO_GROUP_SET_CONTAINER:
        return this.setContainer(arg);
      case IOCTL.VFIO_GROUP_UNSET_CONTAINER:
        return this.unsetContainer();
      case IOCTL.VFIO_GROUP_GET_DEVICE_FD:
        return this.getDeviceFd(arg);
      default:
        throw new Errno("ENOTTY", `request 0x${request.toString(16)} is not a group ioctl`, "ioctl");
    }
  }

  private getStatus(arg: IoctlArg): number {
    const syscall = "VFIO_GROUP_GET_STATUS";
    const { value, bytes } = copyInVfio(this.kernel.user, vfio_group_status, arg, syscall);
    const F = VFIO_GROUP_FLAGS.bits;
    let flags = 0;
    if (this.group.container) flags = F.CONTAINER_SET | F.VIABLE;
    else if (!this.group.dma.claimed) flags = F.VIABLE;
    copyOut(vfio_group_status, bytes, { ...value, flags }, vfio_group_status.minsz);
    return 0;
  }

  private setContainer(arg: IoctlArg): number {
    const syscall = "VFIO_GROUP_SET_CONTAINER";
    const bytes = argBytes(this.kernel.user, arg, 4, syscall);
    const fd = new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true);
    const file = this.kernel.file(fd, syscall);
    const g = this.group;
    if (g.container) throw new Errno("EINVAL", `group ${g.id} already has a container`, syscall);
    if (file instanceof ContainerFile) {
      g.dma.claim(file, true, syscall);
      try {
        file.attachGroup(g, syscall);
      } catch (e) {
        g.dma.release(file);
        throw e;
      }
      g.container = file;
      return 0;
    }
    if (file.kind === "iommufd") {
      throw new Errno("EOPNOTSUPP", "using an iommufd as a group's container (the VFIO compatibility IOAS) is not emulated; bind the device cdev instead", syscall);
    }
    throw new Errno("EBADFD", `fd ${fd} is a ${file.kind} fd, neither a container nor an iommufd`, syscall);
  }

  private unsetContainer(): number {
    const syscall = "VFIO_GROUP_UNSET_CONTAINER";
    const g = this.group;
    if (!g.container) throw new Errno("EINVAL", `group ${g.id} has no container`, syscall);
    if (g.deviceFds > 0) throw new Errno("EBUSY", `${g.deviceFds} device fd(s) of group ${g.id} are open`, syscall);
    g.detachContainer();
    return 0;
  }

  private getDeviceFd(arg: IoctlArg): number {
    const syscall = "VFIO_GROUP_GET_DEVICE_FD";
    const name = readCString(argBytes(this.kernel.user, arg, 1, syscall), syscall);
    const device = this.match(name, syscall);
    const c = this.group.container;
    if (!c) throw new Errno("EINVAL", `group ${this.group.id} has no container (VFIO_GROUP_SET_CONTAINER first)`, syscall);
    if (!c.iommuSet) throw new Errno("EINVAL", "the container has no IOMMU backend (VFIO_SET_IOMMU first)", syscall);
    const file = new GroupDeviceFile(this.kernel, device, this.group);
    try {
      return this.kernel.install(file);
    } catch (e) {
      file.release();
      throw e;
    }
  }

  /**
   * Find the device a GET_DEVICE_FD name selects. PCI devices (named by their
   * address, or with a VF token rule) match as vfio-pci does, taking
   * "<name>[ vf_token=<uuid>]"; others (mdevs) compare the whole string.
   */
  private match(buf: string, syscall: string): VfioDevice {
    for (const device of this.group.devices) {
      if (!device.driver.matchToken && !PCI_NAME.test(device.name)) {
        if (buf === device.name) {
          checkToken(device, null, syscall);
          return device;
        }
        continue;
      }
      const token = parsePciName(device.name, buf, syscall);
      if (token === undefined) continue;
      checkToken(device, token, syscall);
      return device;
    }
    throw new Errno("ENODEV", `group ${this.group.id} has no device "${buf}"`, syscall);
  }

  override release(): void {
    this.fdClosed = true;
    this.group.settle();
  }
}

/** strndup_user(arg, PAGE_SIZE): the NUL-terminated string the argument points to. */
function readCString(bytes: Uint8Array, syscall: string): string {
  const limit = Math.min(bytes.byteLength, PAGE);
  const nul = bytes.subarray(0, limit).indexOf(0);
  if (nul < 0) {
    if (bytes.byteLength >= PAGE) throw new Errno("EINVAL", `the device name is not NUL-terminated within ${PAGE} bytes`, syscall);
    throw new Errno("EFAULT", "the device name runs past the end of the argument buffer without a NUL", syscall);
  }
  return new TextDecoder().decode(bytes.subarray(0, nul));
}

/**
 * vfio-pci's name match: `buf` must start with the device name, optionally
 * followed by space-separated options, of which only one " vf_token=<uuid>" is
 * known. Returns undefined when the name does not match, the token (or null)
 * when it does; malformed options are EINVAL.
 */
function parsePciName(name: string, buf: string, syscall: string): Uint8Array | null | undefined {
  if (!buf.startsWith(name)) return undefined;
  if (buf.length === name.length) return null;
  let rest = buf.slice(name.length);
  if (rest[0] !== " ") return undefined;
  let token: Uint8Array | null = null;
  while (rest.length > 0) {
    if (rest[0] === " ") {
      rest = rest.slice(1);
      continue;
    }
    if (token === null && rest.startsWith(VF_TOKEN_ARG)) {
      rest = rest.slice(VF_TOKEN_ARG.length);
      if (rest.length < UUID_STRING_LEN) throw new Errno("EINVAL", "vf_token= needs a 36-character UUID", syscall);
      token = parseUuid(rest.slice(0, UUID_STRING_LEN), syscall);
      rest = rest.slice(UUID_STRING_LEN);
    } else {
      throw new Errno("EINVAL", `unknown or repeated option "${rest.split(" ")[0]}" after the device name`, syscall);
    }
  }
  return token;
}

/** uuid_parse(): "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" to its 16 bytes, in written order. */
function parseUuid(s: string, syscall: string): Uint8Array {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s)) {
    throw new Errno("EINVAL", `"${s}" is not a UUID`, syscall);
  }
  const hex = s.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function sysfsDevicePath(name: string): string {
  return PCI_NAME.test(name) ? `/sys/bus/pci/devices/${name}` : `/sys/bus/mdev/devices/${name}`;
}

/**
 * Register a VFIO group: /dev/vfio/<id>, and /sys/kernel/iommu_groups/<id>/devices/<name>
 * links for discovery. `iommu` is the IOMMU the devices sit behind.
 */
export function registerVfioGroup(kernel: Kernel, iommu: Iommu, groupId: number, devices: VfioDevice[]): VfioGroup {
  let groups = groupsByKernel.get(kernel);
  if (!groups) {
    groups = new Map();
    groupsByKernel.set(kernel, groups);
  }
  if (!Number.isInteger(groupId) || groupId < 0) throw new Error(`group id ${groupId} must be a non-negative integer`);
  if (groups.has(groupId)) throw new Error(`VFIO group ${groupId} is already registered`);
  if (devices.length === 0) throw new Error(`VFIO group ${groupId} needs at least one device`);
  for (const d of devices) {
    if (d.groupId !== groupId) throw new Error(`device ${d.name} says it is in group ${d.groupId}, not ${groupId}`);
    if (groupOfDevice.has(d)) throw new Error(`device ${d.name} is already in a registered group`);
  }
  const group = new VfioGroup(kernel, iommu, groupId, devices);
  groups.set(groupId, group);
  for (const d of devices) {
    groupOfDevice.set(d, group);
    setDmaOwnership(d, group.dma);
    d.groupOpen = () => group.file !== null;
    kernel.sysfs.addLink(`/sys/kernel/iommu_groups/${groupId}/devices/${d.name}`, sysfsDevicePath(d.name));
  }
  kernel.addDevice(`/dev/vfio/${groupId}`, () => group.open());
  return group;
}
