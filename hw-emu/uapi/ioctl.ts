/**
 * Request numbers. Every VFIO and iommufd ioctl is `_IO(';', nr)`: no direction
 * and no size are encoded, so the struct's own argsz/size field is the only length,
 * and the same number means different things on different kinds of fd.
 */

const IOC_NRBITS = 8;
const IOC_TYPEBITS = 8;
const IOC_SIZEBITS = 14;
const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT = IOC_SIZESHIFT + IOC_SIZEBITS;

/** The generic Linux _IOC() encoding (asm-generic/ioctl.h). */
export function IOC(dir: number, type: number, nr: number, size: number): number {
  return ((dir << IOC_DIRSHIFT) | (type << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT) | (size << IOC_SIZESHIFT)) >>> 0;
}

export function IO(type: number, nr: number): number {
  return IOC(0, type, nr, 0);
}

/** Split a request number into its _IOC fields. */
export function decodeRequest(request: number): { dir: number; type: number; nr: number; size: number } {
  return {
    dir: request >>> IOC_DIRSHIFT,
    type: (request >>> IOC_TYPESHIFT) & 0xff,
    nr: (request >>> IOC_NRSHIFT) & 0xff,
    size: (request >>> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1),
  };
}

const VFIO_TYPE = 0x3b; // ';'
const VFIO_BASE = 100;
const IOMMUFD_TYPE = 0x3b;

const vfio = (k: number) => IO(VFIO_TYPE, VFIO_BASE + k);
const iommufd = (nr: number) => IO(IOMMUFD_TYPE, nr);

/** The kinds of file an ioctl can be issued on. Dispatch is by kind first, then by number. */
export type FdKind = "container" | "group" | "device" | "iommufd" | "migration-data";

export interface IoctlDef {
  readonly name: string;
  readonly request: number;
  /** the fd kinds on which Linux defines this request (device = group-opened or cdev) */
  readonly fd: FdKind;
  /** the struct the argument points to, or the scalar it is */
  readonly arg: string;
}

function def(name: string, request: number, fd: FdKind, arg: string): IoctlDef {
  return { name, request, fd, arg };
}

/** The ioctls vfio-workbench implements, with the kernel's names. */
export const IOCTL_DEFS: readonly IoctlDef[] = [
  def("VFIO_GET_API_VERSION", vfio(0), "container", "none"),
  def("VFIO_CHECK_EXTENSION", vfio(1), "container", "int extension"),
  def("VFIO_SET_IOMMU", vfio(2), "container", "int type"),
  def("VFIO_GROUP_GET_STATUS", vfio(3), "group", "vfio_group_status"),
  def("VFIO_GROUP_SET_CONTAINER", vfio(4), "group", "int *container_fd"),
  def("VFIO_GROUP_UNSET_CONTAINER", vfio(5), "group", "none"),
  def("VFIO_GROUP_GET_DEVICE_FD", vfio(6), "group", "char *name"),
  def("VFIO_DEVICE_GET_INFO", vfio(7), "device", "vfio_device_info"),
  def("VFIO_DEVICE_GET_REGION_INFO", vfio(8), "device", "vfio_region_info"),
  def("VFIO_DEVICE_GET_IRQ_INFO", vfio(9), "device", "vfio_irq_info"),
  def("VFIO_DEVICE_SET_IRQS", vfio(10), "device", "vfio_irq_set"),
  def("VFIO_DEVICE_RESET", vfio(11), "device", "none"),
  def("VFIO_IOMMU_GET_INFO", vfio(12), "container", "vfio_iommu_type1_info"),
  def("VFIO_IOMMU_MAP_DMA", vfio(13), "container", "vfio_iommu_type1_dma_map"),
  def("VFIO_IOMMU_UNMAP_DMA", vfio(14), "container", "vfio_iommu_type1_dma_unmap"),
  def("VFIO_DEVICE_FEATURE", vfio(17), "device", "vfio_device_feature"),
  def("VFIO_IOMMU_DIRTY_PAGES", vfio(17), "container", "vfio_iommu_type1_dirty_bitmap"),
  def("VFIO_DEVICE_BIND_IOMMUFD", vfio(18), "device", "vfio_device_bind_iommufd"),
  def("VFIO_DEVICE_ATTACH_IOMMUFD_PT", vfio(19), "device", "vfio_device_attach_iommufd_pt"),
  def("VFIO_DEVICE_DETACH_IOMMUFD_PT", vfio(20), "device", "vfio_device_detach_iommufd_pt"),
  def("VFIO_MIG_GET_PRECOPY_INFO", vfio(21), "migration-data", "vfio_precopy_info"),
  def("IOMMU_DESTROY", iommufd(0x80), "iommufd", "iommu_destroy"),
  def("IOMMU_IOAS_ALLOC", iommufd(0x81), "iommufd", "iommu_ioas_alloc"),
  def("IOMMU_IOAS_ALLOW_IOVAS", iommufd(0x82), "iommufd", "iommu_ioas_allow_iovas"),
  def("IOMMU_IOAS_COPY", iommufd(0x83), "iommufd", "iommu_ioas_copy"),
  def("IOMMU_IOAS_IOVA_RANGES", iommufd(0x84), "iommufd", "iommu_ioas_iova_ranges"),
  def("IOMMU_IOAS_MAP", iommufd(0x85), "iommufd", "iommu_ioas_map"),
  def("IOMMU_IOAS_UNMAP", iommufd(0x86), "iommufd", "iommu_ioas_unmap"),
  def("IOMMU_OPTION", iommufd(0x87), "iommufd", "iommu_option"),
  def("IOMMU_VFIO_IOAS", iommufd(0x88), "iommufd", "iommu_vfio_ioas"),
  def("IOMMU_HWPT_ALLOC", iommufd(0x89), "iommufd", "iommu_hwpt_alloc"),
  def("IOMMU_GET_HW_INFO", iommufd(0x8a), "iommufd", "iommu_hw_info"),
  def("IOMMU_HWPT_SET_DIRTY_TRACKING", iommufd(0x8b), "iommufd", "iommu_hwpt_set_dirty_tracking"),
  def("IOMMU_HWPT_GET_DIRTY_BITMAP", iommufd(0x8c), "iommufd", "iommu_hwpt_get_dirty_bitmap"),
];

type IoctlName =
  | "VFIO_GET_API_VERSION"
  | "VFIO_CHECK_EXTENSION"
  | "VFIO_SET_IOMMU"
  | "VFIO_GROUP_GET_STATUS"
  | "VFIO_GROUP_SET_CONTAINER"
  | "VFIO_GROUP_UNSET_CONTAINER"
  | "VFIO_GROUP_GET_DEVICE_FD"
  | "VFIO_DEVICE_GET_INFO"
  | "VFIO_DEVICE_GET_REGION_INFO"
  | "VFIO_DEVICE_GET_IRQ_INFO"
  | "VFIO_DEVICE_SET_IRQS"
  | "VFIO_DEVICE_RESET"
  | "VFIO_IOMMU_GET_INFO"
  | "VFIO_IOMMU_MAP_DMA"
  | "VFIO_IOMMU_UNMAP_DMA"
  | "VFIO_DEVICE_FEATURE"
  | "VFIO_IOMMU_DIRTY_PAGES"
  | "VFIO_DEVICE_BIND_IOMMUFD"
  | "VFIO_DEVICE_ATTACH_IOMMUFD_PT"
  | "VFIO_DEVICE_DETACH_IOMMUFD_PT"
  | "VFIO_MIG_GET_PRECOPY_INFO"
  | "IOMMU_DESTROY"
  | "IOMMU_IOAS_ALLOC"
  | "IOMMU_IOAS_ALLOW_IOVAS"
  | "IOMMU_IOAS_COPY"
  | "IOMMU_IOAS_IOVA_RANGES"
  | "IOMMU_IOAS_MAP"
  | "IOMMU_IOAS_UNMAP"
  | "IOMMU_OPTION"
  | "IOMMU_VFIO_IOAS"
  | "IOMMU_HWPT_ALLOC"
  | "IOMMU_GET_HW_INFO"
  | "IOMMU_HWPT_SET_DIRTY_TRACKING"
  | "IOMMU_HWPT_GET_DIRTY_BITMAP";

/** Request numbers by kernel name, e.g. `IOCTL.VFIO_DEVICE_FEATURE === 0x3b75`. */
export const IOCTL = Object.fromEntries(IOCTL_DEFS.map((d) => [d.name, d.request])) as Record<IoctlName, number>;

/** The ioctl a request number names on a given kind of fd, if any. */
export function ioctlFor(kind: FdKind, request: number): IoctlDef | undefined {
  return IOCTL_DEFS.find((d) => d.fd === kind && d.request === request);
}

/** Names a request number for messages, listing every meaning it has across fd kinds. */
export function ioctlNames(request: number): string[] {
  return IOCTL_DEFS.filter((d) => d.request === request).map((d) => d.name);
}
