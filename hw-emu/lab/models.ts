/**
 * What the layers above know of the emulated device models, through the lab: their names,
 * the rules the faulty wrapper can make each break, and each model's programming interface
 * (register map, descriptor formats), which is what a guest driver is written against.
 */
import { AccelVf } from "../hw/devices/accel-vf.js";
import { FAULT_RULES, applicableFaults, type FaultRule, type FaultyOptions } from "../hw/devices/faulty.js";
import { NicVf } from "../hw/devices/nic-vf.js";
import { SerialMdev } from "../hw/devices/serial-mdev.js";

export { FAULT_RULES, type FaultRule, type FaultyOptions };
export type { DeviceModel } from "../hw/devices/device-base.js";
export type { MigratableDevice } from "../hw/devices/migration.js";
export { ACCEL_DESC_DONE, ACCEL_DESC_ERROR, ACCEL_DESC_SIZE, ACCEL_OP_CRC32, ACCEL_OP_XOR, ACCEL_REGS } from "../hw/devices/accel-vf.js";
export { NIC_DESC_DONE, NIC_DESC_SIZE, NIC_QUEUE_REGS, NIC_REGS } from "../hw/devices/nic-vf.js";

/** The device models a machine can plug in. */
export type DeviceModelName = "nic" | "accel" | "serial";
export const DEVICE_MODEL_NAMES: readonly DeviceModelName[] = ["nic", "accel", "serial"];

/** The rules a model can be made to break (asked of a throwaway instance of the model). */
export function faultsFor(model: DeviceModelName): FaultRule[] {
  const m = model === "nic" ? new NicVf({ stateSize: 4096 }) : model === "accel" ? new AccelVf() : new SerialMdev();
  return applicableFaults(m);
}
