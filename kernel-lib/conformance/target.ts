/** Naming a conformance target in text, as the command line does. */
import { lab } from "../backends/emu.js";
import type { DeviceLocator, EmulatedModelName, EmulatedTarget } from "./types.js";

const { FAULT_RULES } = lab;
type FaultRule = lab.FaultRule;

export const EMULATED_MODELS: readonly EmulatedModelName[] = lab.DEVICE_MODEL_NAMES;

/** The rules each model can be made to break. */
export function faultsFor(model: EmulatedModelName): FaultRule[] {
  return lab.faultsFor(model);
}

/**
 * "nic" | "accel" | "serial", or "faulty:RULE" (a NIC, which can break every
 * rule), or "faulty:RULE:MODEL". Throws RangeError with a one-line reason.
 */
export function parseDeviceArg(text: string): EmulatedTarget {
  const parts = text.split(":");
  if (parts.length === 1) {
    if (!EMULATED_MODELS.includes(text as EmulatedModelName)) throw new RangeError(`unknown device "${text}"; choose ${EMULATED_MODELS.join(", ")} or faulty:RULE[:MODEL]`);
    return { kind: "emulated", model: text as EmulatedModelName };
  }
  if (parts[0] !== "faulty" || parts.length > 3) throw new RangeError(`"${text}" is not a device; write faulty:RULE or faulty:RULE:MODEL`);
  const rule = parts[1] as FaultRule;
  if (!FAULT_RULES.includes(rule)) throw new RangeError(`unknown fault rule "${parts[1]}"; rules: ${FAULT_RULES.join(", ")}`);
  const model = (parts[2] ?? "nic") as EmulatedModelName;
  if (!EMULATED_MODELS.includes(model)) throw new RangeError(`unknown model "${parts[2]}" in "${text}"; choose ${EMULATED_MODELS.join(", ")}`);
  const can = faultsFor(model);
  if (!can.includes(rule)) throw new RangeError(`the ${model} model cannot break "${rule}"; it can break ${can.join(", ")}`);
  return { kind: "emulated", model, faulty: rule };
}

const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/i;
const MDEV_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `name` is how a group names a device: a PCI address (DDDD:BB:DD.F) or an mdev UUID. */
export function isGroupDeviceName(name: string): boolean {
  return PCI_ADDRESS.test(name) || MDEV_UUID.test(name);
}

/** "/dev/vfio/devices/vfioN" (a cdev) or "GROUP:BDF", e.g. "12:0000:01:00.1". */
export function parseLocator(text: string): DeviceLocator {
  if (text.startsWith("/")) return { cdev: text };
  const m = /^(\d+):(.+)$/.exec(text);
  if (!m || !isGroupDeviceName(m[2]!)) throw new RangeError(`"${text}" names no device; write a cdev path (/dev/vfio/devices/vfioN) or GROUP:BDF (BDF as 0000:01:00.1, or an mdev UUID)`);
  return { group: Number(m[1]), bdf: m[2]! };
}
