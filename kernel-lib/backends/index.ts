/** The two implementations of the syscall line. */
export { createEmuBackend, lab, type DeviceSpec, type EmulatedMachine, type MachineOptions } from "./emu.js";
export { createNativeBackend, nativeBackendStatus } from "./native/index.js";
/** Every migration path as the emulated kernel walks it, read from the arcs its driver performed (emulator only). */
export { FsmProbe, walkAllFsmPaths, type FsmPathResult } from "./emu-fsm.js";
