/** The shapes the conformance suite speaks in: targets, check results and the report. */
import type { lab } from "../backends/emu.js";
import type { Syscalls } from "../../hw-emu/uapi/index.js";

export type CheckStatus = "pass" | "fail" | "skip";

export interface CheckResult {
  /** stable id, e.g. "fsm.arc RUNNING->RUNNING_P2P" */
  id: string;
  /** what the check verifies, in one line */
  description: string;
  status: CheckStatus;
  /** what was seen: the reason for a failure or a skip, or a short summary of a pass */
  detail: string;
}

export interface ConformanceReport {
  /** the device under test, as a person would name it */
  device: string;
  /** its VFIO_MIGRATION_* flags by name, e.g. "STOP_COPY,P2P,PRE_COPY" ("none" without migration) */
  flags: string;
  /** whether the device can log its own DMA writes (DMA_LOGGING PROBE) */
  dmaLogging: boolean;
  /** whether the lab (emulated hardware) was available to the checks */
  lab: boolean;
  checks: CheckResult[];
  passed: number;
  failed: number;
  skipped: number;
}

export type EmulatedModelName = lab.DeviceModelName;

/** An emulated device, built fresh for the run, with the lab available. */
export interface EmulatedTarget {
  kind: "emulated";
  model: EmulatedModelName;
  /** make the device break one rule (the faulty wrapper) */
  faulty?: lab.FaultRule;
  faultyOptions?: lab.FaultyOptions;
  /** machine seed (default 1) */
  seed?: number;
  /** nic: bytes of device state (default 256 KiB, to keep the run short) */
  stateSize?: number;
  /** nic, accel: offer PRE_COPY (default true) */
  preCopy?: boolean;
  /** serial: 1 or 2 ports */
  ports?: number;
}

/** How to reach a VFIO device through the syscall interface. */
export type DeviceLocator =
  /** a device cdev, bound to a fresh iommufd and attached to an IOAS */
  | { cdev: string }
  /** a device in a group, reached through a type1v2 container */
  | { group: number; bdf: string };

/** A device reached only through the uAPI (a real host, or any Syscalls): no lab. */
export interface DeviceTarget {
  kind: "device";
  sys: Syscalls;
  device: DeviceLocator;
  /** a second, compatible device to resume the saved state into */
  peer?: DeviceLocator;
  /** for the report (default: the locator) */
  name?: string;
}

export type ConformanceTarget = EmulatedTarget | DeviceTarget;

export interface ConformanceOptions {
  /** run only checks whose id starts with one of these prefixes */
  only?: readonly string[];
  /**
   * Send the blocked STOP_COPY -> PRE_COPY(_P2P) requests to a device reached
   * through the uAPI (DeviceTarget). Kernels before the 2026 fix spin forever in
   * the path finder on them, so this is off unless asked; emulated targets always send them.
   */
  probeBlockedArcs?: boolean;
  /** called after each check, for progress display */
  onResult?: (result: CheckResult) => void;
}
