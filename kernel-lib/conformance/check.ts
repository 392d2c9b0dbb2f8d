/** One conformance check: a stable id, a one-line description, when it applies, and what it does. */
import type { CheckContext } from "./context.js";

/** What the planner knows about the device before any check runs. */
export interface Capabilities {
  /** VFIO_MIGRATION_* bits (0 without migration) */
  flags: number;
  migration: boolean;
  stopCopy: boolean;
  p2p: boolean;
  preCopy: boolean;
  dmaLogging: boolean;
  /** GET_INFO advertises VFIO_DEVICE_FLAGS_RESET */
  reset: boolean;
  /** the lab (emulated hardware) is available */
  lab: boolean;
  /** the lab's device model issues DMA / initiates P2P (false without the lab) */
  dma: boolean;
  p2pInitiator: boolean;
  /** the lab's device model is the NIC (it has a mailbox peers can write) */
  peerTarget: boolean;
}

export interface Check {
  id: string;
  description: string;
  /** checks that watch the hardware are skipped on real devices */
  needsLab?: boolean;
  /** why the check does not apply to this device, or null when it does */
  applies?(caps: Capabilities): string | null;
  /** returns a short summary of what passed; fails or skips by throwing (see context.ts) */
  run(ctx: CheckContext, caps: Capabilities): string;
}

export const needsMigration = (c: Capabilities): string | null => (c.migration ? null : "the device has no migration support");
export const needsPreCopy = (c: Capabilities): string | null => needsMigration(c) ?? (c.preCopy ? null : "the device does not offer PRE_COPY");
export const needsLogging = (c: Capabilities): string | null => (c.dmaLogging ? null : "the device has no DMA logging (the PROBE of DMA_LOGGING_START was refused)");
