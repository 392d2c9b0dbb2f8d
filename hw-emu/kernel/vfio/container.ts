/**
 * The VFIO container, /dev/vfio/vfio: a set of groups sharing one IOMMU
 * context. It is unprivileged until a group joins; SET_IOMMU then picks the
 * backend (type1, v1 or v2 semantics) and every other ioctl goes to it.
 * Closing the container fd does not tear anything down: the groups keep it
 * alive until the last one leaves, which also drops the backend.
 */
import { Errno, IOCTL, VFIO } from "../../uapi/index.js";
import { KFile, type IoctlArg } from "../file.js";
import type { Kernel } from "../kernel.js";
import { Type1Iommu, type Type1Group } from "./type1.js";
import { type1Ioctl } from "./type1-ioctl.js";

/** The integer value of a scalar ioctl argument (a pointer passed as bytes is its address). */
export function intArg(arg: IoctlArg): bigint {
  return arg.kind === "int" ? arg.value : arg.addr;
}

export class ContainerFile extends KFile {
  readonly kind = "container" as const;
  readonly label = "/dev/vfio/vfio";
  private readonly groups: Type1Group[] = [];
  private backend: Type1Iommu | null = null;

  constructor(private readonly kernel: Kernel) {
    super();
  }

  /** whether SET_IOMMU has chosen a backend */
  get iommuSet(): boolean {
    return this.backend !== null;
  }

  /** the type1 backend, for observation (null before SET_IOMMU) */
  get type1(): Type1Iommu | null {
    return this.backend;
  }

  get groupCount(): number {
    return this.groups.length;
  }

  override ioctl(request: number, arg: IoctlArg): number {
    switch (request) {
      case IOCTL.VFIO_GET_API_VERSION:
        return VFIO.VFIO_API_VERSION;
      case IOCTL.VFIO_CHECK_EXTENSION:
        // type1 is the only IOMMU driver of this kernel (no spapr, noiommu mode off)
        return Type1Iommu.checkExtension(this.backend, intArg(arg));
      case IOCTL.VFIO_SET_IOMMU:
        return this.setIommu(intArg(arg));
    }
    if (!this.backend) throw new Errno("EINVAL", "no IOMMU backend: VFIO_SET_IOMMU has not been called", "ioctl");
    return type1Ioctl(this.backend, this.kernel.user, request, arg);
  }

  private setIommu(type: bigint): number {
    const syscall = "VFIO_SET_IOMMU";
    if (this.groups.length === 0) throw new Errno("EINVAL", "no group has joined this container (VFIO_GROUP_SET_CONTAINER first)", syscall);
    if (this.backend) throw new Errno("EINVAL", "the IOMMU backend is already set", syscall);
    if (Type1Iommu.checkExtension(null, type) <= 0) throw new Errno("ENODEV", `no IOMMU driver offers type ${type}`, syscall);
    const backend = new Type1Iommu(this.kernel.user, Number(type), syscall);
    const attached: Type1Group[] = [];
    try {
      for (const g of this.groups) {
        backend.attachGroup(g, syscall);
        attached.push(g);
      }
    } catch (e) {
      for (const g of attached) backend.detachGroup(g);
      backend.release();
      throw e;
    }
    this.backend = backend;
    return 0;
  }

  /** A group joins (VFIO_GROUP_SET_CONTAINER); with a backend set it must attach to it. */
  attachGroup(group: Type1Group, syscall: string): void {
    if (this.backend) this.backend.attachGroup(group, syscall);
    this.groups.push(group);
  }

  /** A group leaves; the last one takes the backend with it. */
  detachGroup(group: Type1Group): void {
    const i = this.groups.indexOf(group);
    if (i < 0) return;
    this.groups.splice(i, 1);
    if (!this.backend) return;
    this.backend.detachGroup(group);
    if (this.groups.length === 0) {
      this.backend.release();
      this.backend = null;
    }
  }
}

/** Register /dev/vfio/vfio: every open gives a new, empty container. */
export function registerVfioContainerNode(kernel: Kernel): void {
  kernel.addDevice("/dev/vfio/vfio", () => new ContainerFile(kernel));
}
