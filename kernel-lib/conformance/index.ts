/** The conformance suite: run it on an emulated model, a faulty variant, or a real VFIO device. */
export { runConformance, runOnSubject, planChecks, capabilities } from "./run.js";
export { faultsFor, isGroupDeviceName, parseDeviceArg, parseLocator } from "./target.js";
export type { CheckResult, CheckStatus, ConformanceOptions, ConformanceReport, ConformanceTarget, DeviceLocator, DeviceTarget, EmulatedModelName, EmulatedTarget } from "./types.js";
export type { Check, Capabilities } from "./check.js";
