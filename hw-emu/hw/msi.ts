/**
 * MSI: the capability lives entirely in config space. Message Control holds
 * Enable, Multiple Message Capable (read-only, log2 of the vectors the
 * function wants) and Multiple Message Enable (written by software, log2 of
 * the vectors granted); optional 64-bit address and per-vector Mask / Pending
 * registers. Vector v of n granted vectors is signalled with the message
 * data's low log2(n) bits replaced by v.
 */
import type { TimeSource } from "../sim/clock.js";
import type { PciFunction } from "./pci/function.js";
import { InterruptLog, type InterruptOutcome } from "./pci/interrupt-log.js";
import { MessageInterrupts } from "./message-interrupts.js";
import {
  PCI_CAP_ID_MSI,
  PCI_MSI_ADDRESS_LO,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_MSI_FLAGS_QSIZE,
} from "../uapi/pci-regs.js";

export interface MsiOptions {
  /** vectors requested: 1, 2, 4, 8, 16 or 32 */
  vectors: number;
  /** 64-bit message address (default true) */
  address64?: boolean;
  /** per-vector masking (default true) */
  perVectorMask?: boolean;
  log?: InterruptLog;
  time?: TimeSource;
}

export class MsiController extends MessageInterrupts {
  readonly capOffset: number;
  readonly address64: boolean;
  readonly perVectorMask: boolean;
  private readonly dataOff: number;
  private readonly maskOff: number;
  private readonly pendingOff: number;
  /** pending firings of a function without a Pending register (no per-vector masking) */
  private heldWithoutRegister = 0;

  constructor(fn: PciFunction, opts: MsiOptions) {
    const log2 = Math.log2(opts.vectors);
    if (!Number.isInteger(log2) || log2 < 0 || log2 > 5) throw new RangeError(`MSI vector count ${opts.vectors} must be 1, 2, 4, 8, 16 or 32`);
    super(fn, "msi", opts.vectors, opts.log ?? new InterruptLog(opts.time ?? null));
    this.address64 = opts.address64 ?? true;
    this.perVectorMask = opts.perVectorMask ?? true;

    const length = 10 + (this.address64 ? 4 : 0) + (this.perVectorMask ? 10 : 0);
    const cap = fn.caps.add(PCI_CAP_ID_MSI, length);
    this.capOffset = cap;
    this.dataOff = cap + (this.address64 ? 0x0c : 0x08);
    this.maskOff = this.dataOff + 4;
    this.pendingOff = this.dataOff + 8;
    const cfg = fn.config;
    const ctrl = (log2 << 1) | (this.address64 ? PCI_MSI_FLAGS_64BIT : 0) | (this.perVectorMask ? PCI_MSI_FLAGS_MASKBIT : 0);
    cfg.define(cap + PCI_MSI_FLAGS, 2, ctrl, { rw: PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE });
    cfg.define(cap + PCI_MSI_ADDRESS_LO, 4, 0, { rw: 0xfffffffc });
    if (this.address64) cfg.define(cap + 8, 4, 0, { rw: 0xffffffff });
    cfg.define(this.dataOff, 2, 0, { rw: 0xffff });
    cfg.define(this.dataOff + 2, 2, 0);
    const vecBits = this.vectors === 32 ? 0xffffffff : (1 << this.vectors) - 1;
    if (this.perVectorMask) {
      cfg.define(this.maskOff, 4, 0, { rw: vecBits });
      cfg.define(this.pendingOff, 4, 0); // read-only to software; the function sets it
      cfg.watch(this.maskOff, 4, () => this.releaseDeliverable());
    }
    cfg.watch(cap + PCI_MSI_FLAGS, 2, () => this.releaseDeliverable());
    fn.onReset(() => {
      this.heldWithoutRegister = 0;
    });
  }

  private control(): number {
    return this.fn.config.peek(this.capOffset + PCI_MSI_FLAGS, 2);
  }

  get enabled(): boolean {
    return (this.control() & PCI_MSI_FLAGS_ENABLE) !== 0;
  }

  /** Vectors granted by software (Multiple Message Enable, capped at what the function asked for). */
  get enabledVectors(): number {
    const mme = (this.control() & PCI_MSI_FLAGS_QSIZE) >> 4;
    return Math.min(1 << mme, this.vectors);
  }

  vectorMasked(v: number): boolean {
    this.checkVector(v);
    return this.perVectorMask && ((this.fn.config.peek(this.maskOff, 4) >>> v) & 1) === 1;
  }

  pending(v: number): boolean {
    this.checkVector(v);
    return this.perVectorMask && ((this.fn.config.peek(this.pendingOff, 4) >>> v) & 1) === 1;
  }

  message(v: number): { address: bigint; data: number } {
    this.checkVector(v);
    const cfg = this.fn.config;
    const lo = BigInt(cfg.peek(this.capOffset + PCI_MSI_ADDRESS_LO, 4));
    const hi = this.address64 ? BigInt(cfg.peek(this.capOffset + 8, 4)) : 0n;
    const n = this.enabledVectors;
    const data = (cfg.peek(this.dataOff, 2) & ~(n - 1)) | (v & (n - 1));
    return { address: (hi << 32n) | lo, data };
  }

  protected setPending(v: number, on: boolean): void {
    // without per-vector masking there is no Pending register; a held firing is kept internally
    if (!this.perVectorMask) {
      this.heldWithoutRegister = on ? this.heldWithoutRegister | (1 << v) : this.heldWithoutRegister & ~(1 << v);
      return;
    }
    const cur = this.fn.config.peek(this.pendingOff, 4);
    this.fn.config.poke(this.pendingOff, 4, on ? cur | (1 << v) : cur & ~(1 << v));
  }

  protected override waiting(v: number): boolean {
    return this.perVectorMask ? this.pending(v) : ((this.heldWithoutRegister >>> v) & 1) === 1;
  }

  protected override dropOf(v: number): InterruptOutcome | null {
    return v >= this.enabledVectors ? "dropped-vector" : null;
  }

  protected override get releasableVectors(): number {
    return this.enabledVectors;
  }
}
