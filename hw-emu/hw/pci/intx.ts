/**
 * Legacy INTx: one level-sensitive pin per function (none for SR-IOV VFs).
 * The level shows in the Status register's Interrupt Status bit; the pin is
 * only driven while the command register's INTx Disable bit is clear.
 */
import type { PciFunction } from "./function.js";
import { InterruptLog, type InterruptConsumer } from "./interrupt-log.js";
import { PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_STATUS, PCI_STATUS_INTERRUPT } from "../../uapi/pci-regs.js";

export class IntxLine {
  private level = false;
  private driven = false;
  private consumer: InterruptConsumer | null = null;

  constructor(
    private readonly fn: PciFunction,
    readonly log: InterruptLog = new InterruptLog(),
  ) {
    if (fn.interruptPin === 0) throw new Error(`${fn.name} has no interrupt pin`);
    fn.config.watch(PCI_COMMAND, 2, (before, after) => {
      if ((before ^ after) & PCI_COMMAND_INTX_DISABLE) this.update("fire");
    });
    fn.onReset(() => {
      this.level = false;
      this.update("deassert");
    });
  }

  /** The emulated kernel's handler for this pin (null detaches). */
  setConsumer(consumer: InterruptConsumer | null): void {
    this.consumer = consumer;
  }

  /** The device's internal interrupt condition. */
  get asserted(): boolean {
    return this.level;
  }

  /** Whether the pin is currently driven (condition present and INTx not disabled). */
  get pinDriven(): boolean {
    return this.driven;
  }

  assert(): void {
    this.setLevel(true);
  }

  deassert(): void {
    this.setLevel(false);
  }

  setLevel(level: boolean): void {
    if (level === this.level) return;
    this.level = level;
    this.update(level ? "fire" : "deassert");
  }

  private update(cause: "fire" | "deassert"): void {
    const cfg = this.fn.config;
    const status = cfg.peek(PCI_STATUS, 2);
    cfg.poke(PCI_STATUS, 2, this.level ? status | PCI_STATUS_INTERRUPT : status & ~PCI_STATUS_INTERRUPT);
    const drive = this.level && !this.fn.intxDisabled();
    if (drive === this.driven) {
      if (this.level && cause === "fire" && this.fn.intxDisabled()) {
        this.log.record({ source: this.fn.name, kind: "intx", vector: 0, cause, outcome: "dropped-disabled", consumed: false });
      }
      return;
    }
    this.driven = drive;
    const consumed = this.consumer !== null;
    this.log.record({
      source: this.fn.name,
      kind: "intx",
      vector: 0,
      cause: drive ? "fire" : "deassert",
      outcome: "delivered",
      consumed,
      data: drive ? 1 : 0,
    });
    this.consumer?.({ kind: "intx", vector: 0, address: 0n, data: drive ? 1 : 0, time: this.log.now() });
  }
}
