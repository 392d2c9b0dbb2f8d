/** The two implementations of the syscall line. */
export { createEmuBackend, lab, type DeviceSpec, type EmulatedMachine, type MachineOptions } from "./emu.js";
export { createNativeBackend, nativeBackendStatus } from "./native/index.js";
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
} from "./select.js";
