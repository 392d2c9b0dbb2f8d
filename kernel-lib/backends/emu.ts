/**
 * The emulator backend: an emulated host whose syscalls the typed library uses
 * exactly as it uses a real kernel's. `machine.lab` watches and disturbs the
 * hardware, which a real host cannot; notebooks say so where they use it.
 */
import { createMachine, type DeviceSpec, type EmulatedMachine, type MachineDevice, type MachineOptions } from "../../hw-emu/machine/machine.js";

export type { DeviceSpec, EmulatedMachine, MachineDevice, MachineOptions };

/** Build an emulated host: which devices, how much memory, whether the IOMMU tracks dirty pages, the seed. */
export function createEmuBackend(options: MachineOptions = {}): EmulatedMachine {
  return createMachine(options);
}

/**
 * The lab: observe and disturb emulated devices the way real hardware does not allow
 * (pending interrupts, internal state, lost peer writes, traffic on demand), the device
 * models' names and fault rules, and the guest drivers that give them DMA work. Notebooks
 * that use it say so; the machine's own `lab` covers memory, IOMMU and DMA. Code above
 * hw-emu takes the lab from here and from nowhere else.
 */
export * as lab from "../../hw-emu/lab/index.js";
