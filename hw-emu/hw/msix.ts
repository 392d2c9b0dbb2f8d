/**
 * MSI-X: the capability in config space (Message Control with Table Size,
 * Function Mask and Enable; Table and PBA offset/BIR), the vector table and
 * the Pending Bit Array inside a BAR, and delivery.
 *
 * Firing vector v writes its message (calls the consumer attached to v) when
 * MSI-X is enabled, the function is not masked and v is not masked;
 * otherwise, if MSI-X is enabled, v's pending bit is set. Clearing a mask
 * (vector mask, function mask) or releasing a hold delivers each pending,
 * now-unmasked vector exactly once and clears its pending bit.
 *
 * A device model may "hold" its interrupts (a stopped device must not
 * signal): while held, firings and unmasks only leave vectors pending.
 */
import type { TimeSource } from "../sim/clock.js";
import type { AccessSize } from "./pci/config-space.js";
import type { MmioHandler } from "./pci/bar.js";
import type { PciFunction } from "./pci/function.js";
import { InterruptLog } from "./pci/interrupt-log.js";
import { MessageInterrupts } from "./message-interrupts.js";
import {
  PCI_CAP_ID_MSIX,
  PCI_CAP_MSIX_SIZEOF,
  PCI_MSIX_ENTRY_CTRL_MASKBIT,
  PCI_MSIX_ENTRY_DATA,
  PCI_MSIX_ENTRY_LOWER_ADDR,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_UPPER_ADDR,
  PCI_MSIX_ENTRY_VECTOR_CTRL,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSIX_PBA,
  PCI_MSIX_TABLE,
} from "../uapi/pci-regs.js";

export const MSIX_MAX_VECTORS = 2048;

export interface MsixOptions {
  /** number of table entries, 1..2048 */
  vectors: number;
  tableBar: number;
  /** byte offset of the table in its BAR (8-byte aligned) */
  tableOffset: number;
  pbaBar: number;
  /** byte offset of the PBA in its BAR (8-byte aligned) */
  pbaOffset: number;
  /** shared log (default: a private one stamped with `time`) */
  log?: InterruptLog;
  time?: TimeSource;
}

export interface MsixVectorState {
  vector: number;
  address: bigint;
  data: number;
  masked: boolean;
  pending: boolean;
  hasConsumer: boolean;
}

export class MsixController extends MessageInterrupts {
  readonly capOffset: number;
  readonly tableBar: number;
  readonly tableOffset: number;
  readonly pbaBar: number;
  readonly pbaOffset: number;
  private readonly table: Uint8Array;
  private readonly tableView: DataView;
  private readonly pba: Uint8Array;

  constructor(fn: PciFunction, opts: MsixOptions) {
    const n = opts.vectors;
    if (!Number.isInteger(n) || n < 1 || n > MSIX_MAX_VECTORS) throw new RangeError(`MSI-X vector count ${n} not in 1..2048`);
    for (const [what, v] of [["table", opts.tableOffset], ["PBA", opts.pbaOffset]] as const) {
      if (!Number.isInteger(v) || v < 0 || v % 8 !== 0) throw new RangeError(`MSI-X ${what} offset must be 8-byte aligned`);
    }
    super(fn, "msix", n, opts.log ?? new InterruptLog(opts.time ?? null));
    this.tableBar = opts.tableBar;
    this.tableOffset = opts.tableOffset;
    this.pbaBar = opts.pbaBar;
    this.pbaOffset = opts.pbaOffset;
    this.table = new Uint8Array(n * PCI_MSIX_ENTRY_SIZE);
    this.tableView = new DataView(this.table.buffer);
    this.pba = new Uint8Array(Math.ceil(n / 64) * 8);
    this.resetTable();

    const cfg = fn.config;
    this.capOffset = fn.caps.add(PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
    cfg.define(this.capOffset + PCI_MSIX_FLAGS, 2, n - 1, { rw: PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL });
    cfg.define(this.capOffset + PCI_MSIX_TABLE, 4, (opts.tableOffset | opts.tableBar) >>> 0);
    cfg.define(this.capOffset + PCI_MSIX_PBA, 4, (opts.pbaOffset | opts.pbaBar) >>> 0);
    cfg.watch(this.capOffset + PCI_MSIX_FLAGS, 2, () => this.releaseDeliverable());

    fn.addBarOverlay(opts.tableBar, opts.tableOffset, this.table.length, this.tableHandler());
    fn.addBarOverlay(opts.pbaBar, opts.pbaOffset, this.pba.length, this.pbaHandler());
    fn.onReset(() => {
      this.resetTable();
      this.pba.fill(0);
    });
  }

  private resetTable(): void {
    this.table.fill(0);
    // Every vector comes out of reset masked.
    for (let v = 0; v < this.vectors; v++) this.table[v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
  }

  private control(): number {
    return this.fn.config.peek(this.capOffset + PCI_MSIX_FLAGS, 2);
  }

  get enabled(): boolean {
    return (this.control() & PCI_MSIX_FLAGS_ENABLE) !== 0;
  }

  override get functionMasked(): boolean {
    return (this.control() & PCI_MSIX_FLAGS_MASKALL) !== 0;
  }

  vectorMasked(v: number): boolean {
    this.checkVector(v);
    return (this.table[v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL]! & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0;
  }

  pending(v: number): boolean {
    this.checkVector(v);
    return (this.pba[v >> 3]! & (1 << (v & 7))) !== 0;
  }

  /** A copy of the PBA bytes (little-endian u64 words). */
  pbaBytes(): Uint8Array {
    return this.pba.slice();
  }

  message(v: number): { address: bigint; data: number } {
    this.checkVector(v);
    const o = v * PCI_MSIX_ENTRY_SIZE;
    const lo = BigInt(this.tableView.getUint32(o + PCI_MSIX_ENTRY_LOWER_ADDR, true));
    const hi = BigInt(this.tableView.getUint32(o + PCI_MSIX_ENTRY_UPPER_ADDR, true));
    return { address: (hi << 32n) | lo, data: this.tableView.getUint32(o + PCI_MSIX_ENTRY_DATA, true) };
  }

  vectorState(v: number): MsixVectorState {
    const m = this.message(v);
    return { vector: v, ...m, masked: this.vectorMasked(v), pending: this.pending(v), hasConsumer: this.hasConsumer(v) };
  }

  protected setPending(v: number, on: boolean): void {
    const bit = 1 << (v & 7);
    this.pba[v >> 3] = on ? this.pba[v >> 3]! | bit : this.pba[v >> 3]! & ~bit;
  }

  private tableHandler(): MmioHandler {
    return {
      read: (offset: number, size: AccessSize) => readLE(this.table, offset, size),
      write: (offset: number, size: AccessSize, value: number) => {
        const v = Math.floor(offset / PCI_MSIX_ENTRY_SIZE);
        const wasMasked = this.vectorMasked(v);
        writeLE(this.table, offset, size, value);
        // Only the mask bit of Vector Control is implemented; the rest is reserved zero.
        const ctrl = v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL;
        this.tableView.setUint32(ctrl, this.tableView.getUint32(ctrl, true) & PCI_MSIX_ENTRY_CTRL_MASKBIT, true);
        // Address bits 1:0 are reserved zero.
        const lo = v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_LOWER_ADDR;
        this.tableView.setUint32(lo, this.tableView.getUint32(lo, true) & ~3, true);
        if (wasMasked && !this.vectorMasked(v)) this.releaseDeliverable();
      },
    };
  }

  private pbaHandler(): MmioHandler {
    return {
      read: (offset: number, size: AccessSize) => readLE(this.pba, offset, size),
      // The PBA is read-only; writes are ignored.
      write: () => undefined,
    };
  }
}

function readLE(buf: Uint8Array, offset: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + buf[offset + i]!;
  return v >>> 0;
}

function writeLE(buf: Uint8Array, offset: number, size: number, value: number): void {
  let v = value >>> 0;
  for (let i = 0; i < size; i++) {
    buf[offset + i] = v & 0xff;
    v >>>= 8;
  }
}
