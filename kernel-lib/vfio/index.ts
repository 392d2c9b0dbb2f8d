/** The typed VFIO library: the same code over the emulator and a real /dev/vfio. */
export * from "./errors.js";
export * from "./bitmap.js";
export * from "./container.js";
export * from "./device.js";
export * from "./migration.js";
export * from "./dma-logging.js";
export * from "./iommufd.js";
export * from "./trackers.js";
export * from "./discovery.js";
export { featureCall, type FeatureName, type FeatureOp } from "./feature.js";
export * from "./state-machine.js";
export * from "./fsm-diff.js";
export * from "./pci-capabilities.js";
export { traceSyscalls, SyscallTrace, type IoctlRecord, type IoRecord, type SyscallRecord } from "./trace.js";
export {
  createBackend,
  backendKindFromEnv,
  probeVfioDevices,
  matchDevices,
  BackendError,
  type Backend,
  type BackendRequest,
  type DeviceRequest,
  type FoundDevice,
  type MigrationFeature,
} from "./create-backend.js";
