/** The migration orchestrator and the simulated VM it moves. */
export { SimulatedVm, parseSize } from "./simulated-vm.js";
export { migrate, MigrationAborted } from "./migrate.js";
export { DEFAULT_COSTS, type MigrationCosts } from "./costs.js";
export { AUTO_CONVERGE_DEFAULTS } from "./auto-converge.js";
export { sweepP2pRate, type P2pSweepOptions, type P2pSweepPoint } from "./p2p-sweep.js";
export { VmmHost, HostDevice, P2P_IOVA_BASE, P2P_IOVA_STRIDE, type IrqSetup, type VmmHostOptions } from "./host.js";
export { Guest, type DeviceIrqState, type ResolvedWorkload } from "./guest.js";
export { GuestRam, type SourceRam } from "./ram.js";
export { checkScenario, divergenceExpected, type MigrationScenario, type ScenarioReport } from "./scenario.js";
export type * from "./types.js";
export { EmulatedMsix, type EmulatedMsixOptions, type LoadOptions, type MsixEntry, type MsixEvent, type MsixSnapshot } from "./msix-emulation.js";
export { IRQ_RESTORE_ORDERS, restoreVfioPciDevice, saveVfioPciDevice, type IrqRestoreOrder, type RestoreOptions, type RestoreStep, type SavedVfioPciDevice } from "./device-restore.js";
