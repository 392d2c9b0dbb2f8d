/** The conformance suite: run it on an emulated model, a faulty variant, or a real VFIO device. */
export { runConformance, runOnSubject, planChecks, capabilities } from "./run.js";
export { faultsFor, isGroupDeviceName, parseDeviceArg, parseLocator } from "./target.js";
export type { CheckResult, CheckStatus, ConformanceOptions, ConformanceReport, ConformanceTarget, DeviceLocator, DeviceTarget, EmulatedModelName, EmulatedTarget } from "./types.js";
export type { Check, Capabilities } from "./check.js";
/** Every migration path as the emulated kernel walks it, read from the arcs its driver performed (emulator only). */
export { FsmProbe, walkAllFsmPaths, type FsmPathResult } from "./fsm-probe.js";
