/** The two implementations of the syscall line. */
export { createEmuBackend, lab, type DeviceSpec, type EmulatedMachine, type MachineOptions } from "./emu.js";
export { createNativeBackend, nativeBackendStatus } from "./native/index.js";
export { BACKEND_ENV, type BackendKind } from "./backend-kind.js";
