/**
 * The lab: the one named door into the emulated hardware, which real hardware does not have.
 * The emulator backend hands it out (`lab` here, `machine.lab` for one machine's memory,
 * IOMMU and DMA); code above hw-emu reaches the hardware through nothing else.
 * - devices.ts: watch and drive device models (pending interrupts, state, lost peer writes,
 *   traffic, the arcs the kernel walked);
 * - models.ts: the models' names, the rules each can be made to break, their register maps;
 * - guest-drivers.ts: the one set of guest drivers that give the devices real DMA work;
 * - hardware-lab.ts and host-ram.ts: the machine's half (HardwareLab is `machine.lab`).
 */
export * from "./devices.js";
export * from "./models.js";
export * from "./guest-drivers.js";
export type { HardwareLab, LabParts, PageHash, DirtyRun, TrafficOutcomes } from "./hardware-lab.js";
export type { HostRam } from "./host-ram.js";
export type { GuestDirtyLog } from "../hw/memory-dirty-log.js";
export { PAGE_SIZE } from "../hw/memory.js";
export { ZERO_PAGE_HASH } from "../hw/memory-hash.js";
