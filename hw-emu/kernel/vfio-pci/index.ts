/** vfio-pci: the VFIO driver for emulated PCI functions, and what variant drivers build on. */
export { VfioPciDriver, type VfioPciOptions, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, VFIO_DEVICE_PCI_HOT_RESET, VFIO_DEVICE_IOEVENTFD } from "./driver.js";
export { HostVectorPool, HOST_MSI_ADDRESS, type HostVectorPoolOptions } from "./host-vectors.js";
export { type DeviceRegion, REGION, VFIO_PCI_OFFSET_SHIFT, regionOffset, splitOffset, typeCapability } from "./regions.js";
export { DEVICE_MMAP_BASE, findDeviceMapping, type DeviceMappingTarget } from "./bar-access.js";
export { IRQ, type InterruptHardware } from "./irqs.js";
export { VfToken, boundDriver } from "./vf-token.js";
