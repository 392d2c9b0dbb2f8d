/**
 * Keeps the DMA engine's peer-to-peer address map in step with the PCI bus:
 * every memory BAR that is currently decoded becomes a window whose target is
 * the owning function, so a DMA write translated into another device's BAR
 * reaches that device (which may refuse it; the engine records the loss).
 */
import type { MmioMap, MmioWindow } from "../mmio.js";
import { formatBdf } from "./address.js";
import type { PciBus } from "./bus.js";
import type { PciFunction } from "./function.js";

export interface WindowConflict {
  name: string;
  base: bigint;
  size: number;
  reason: string;
}

export class PeerWindowSync {
  private registered: MmioWindow[] = [];
  private readonly unsubscribe: () => void;
  /** windows that could not be registered at the last sync (overlaps, addresses beyond 2^53) */
  conflicts: WindowConflict[] = [];

  constructor(
    private readonly bus: PciBus,
    private readonly mmio: MmioMap,
  ) {
    this.unsubscribe = bus.onWindowsChange(() => this.sync());
    this.sync();
  }

  /** Re-registers the windows of every decoded memory BAR. */
  sync(): void {
    for (const w of this.registered) w.unregister();
    this.registered = [];
    this.conflicts = [];
    for (const w of this.bus.windows("mem")) {
      const name = `${formatBdf(w.fn.routingId)} BAR${w.bar}`;
      if (w.base + BigInt(w.size) > BigInt(Number.MAX_SAFE_INTEGER)) {
        this.conflicts.push({ name, base: w.base, size: w.size, reason: "address beyond 2^53" });
        continue;
      }
      try {
        this.registered.push(this.mmio.register({ base: Number(w.base), size: w.size, name, target: targetFor(w.fn, w.bar) }));
      } catch (e) {
        this.conflicts.push({ name, base: w.base, size: w.size, reason: (e as Error).message });
      }
    }
  }

  /** Window name used for a function's BAR (matches the DMA engine's lost-access records). */
  static windowName(fn: PciFunction, bar: number): string {
    return `${formatBdf(fn.routingId)} BAR${bar}`;
  }

  dispose(): void {
    this.unsubscribe();
    for (const w of this.registered) w.unregister();
    this.registered = [];
  }
}

function targetFor(fn: PciFunction, bar: number) {
  return {
    write: (offset: number, data: Uint8Array) => fn.peerWrite(bar, offset, data),
    read: (offset: number, dst: Uint8Array) => fn.peerRead(bar, offset, dst),
  };
}
