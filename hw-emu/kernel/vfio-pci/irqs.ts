/**
 * vfio-pci's interrupt contexts: which of INTx, MSI and MSI-X is active, the
 * eventfd behind each vector, the host vectors it took, and the ERR and REQ
 * notification eventfds. SET_IRQS actions land here after validation; the
 * function's interrupts arrive through the hardware's consumer hooks and are
 * turned into eventfd signals.
 *
 * INTx is level-triggered and automasked: when the line fires the host sets
 * the real INTx Disable bit and signals; the line stays masked until the user
 * unmasks it (SET_IRQS UNMASK or the unmask eventfd). The user's own INTx
 * Disable bit is virtual and masks delivery too.
 *
 * MSI/MSI-X vectors are programmed with host messages (x86 format, data = the
 * host vector), never with what the user wrote: a vector is unmasked in the
 * hardware only while an eventfd is attached to it.
 */
import { Errno, VFIO_IRQ_INFO, VFIO_IRQ_SET, VFIO_IRQ_SET_MASKS, VFIO_PCI_IRQ } from "../../uapi/index.js";
import type { Kernel } from "../kernel.js";
import { EventFd } from "../eventfd.js";
import type { PciFunction } from "../../hw/pci/function.js";
import { PciDecodeError } from "../../hw/pci/function.js";
import type { MsixController } from "../../hw/msix.js";
import type { MsiController } from "../../hw/msi.js";
import type { IntxLine } from "../../hw/pci/intx.js";
import type { InterruptMessage } from "../../hw/pci/interrupt-log.js";
import * as R from "../../uapi/pci-regs.js";
import { HOST_MSI_ADDRESS, type HostVectorPool, nextPowerOfTwo } from "./host-vectors.js";
import { type IrqData, SET_IRQS } from "./set-irqs.js";

export const IRQ = {
  INTX: VFIO_PCI_IRQ.VFIO_PCI_INTX_IRQ_INDEX,
  MSI: VFIO_PCI_IRQ.VFIO_PCI_MSI_IRQ_INDEX,
  MSIX: VFIO_PCI_IRQ.VFIO_PCI_MSIX_IRQ_INDEX,
  ERR: VFIO_PCI_IRQ.VFIO_PCI_ERR_IRQ_INDEX,
  REQ: VFIO_PCI_IRQ.VFIO_PCI_REQ_IRQ_INDEX,
  /** also "no interrupt type active" */
  NUM: VFIO_PCI_IRQ.VFIO_PCI_NUM_IRQS,
} as const;

/** The interrupt sources of one function, as its device model built them. */
export interface InterruptHardware {
  readonly fn: PciFunction;
  readonly msix: MsixController | null;
  readonly msi: MsiController | null;
  readonly intx: IntxLine | null;
}

export interface IrqOptions {
  /** MSI-X vectors may be added while enabled (Linux 6.5+ with a capable IRQ domain) */
  readonly dynamicMsix: boolean;
  /** run `f` with Memory Space Enable temporarily on, as the kernel does to reach the MSI-X table */
  readonly withMemory: <T>(f: () => T) => T;
}

interface VectorCtx {
  /** the host vector behind it */
  readonly host: number;
  trigger: EventFd | null;
}

const { EVENTFD, MASKABLE, AUTOMASKED, NORESIZE } = VFIO_IRQ_INFO.bits;

export class VfioPciIrqs {
  /** the active type: INTX, MSI, MSIX, or NUM for none */
  private active: number = IRQ.NUM;
  private intxTrigger: EventFd | null = null;
  private intxMasked = false;
  /** the user's INTx Disable bit */
  private virqDisabled = false;
  private unmaskFd: { efd: EventFd; off: () => void } | null = null;
  private inUnmaskFd = false;
  private readonly vectors = new Map<number, VectorCtx>();
  private qmax = 0;
  private errTrigger: EventFd | null = null;
  private reqTrigger: EventFd | null = null;

  constructor(
    private readonly kernel: Kernel,
    private readonly hw: InterruptHardware,
    private readonly pool: HostVectorPool,
    private readonly opts: IrqOptions,
  ) {}

  private get fn(): PciFunction {
    return this.hw.fn;
  }

  /** The active index (INTX, MSI, MSIX) or NUM. */
  get activeType(): number {
    return this.active;
  }

  get msiActive(): boolean {
    return this.active === IRQ.MSI;
  }

  /** log2 of the vectors the last MSI enable granted, rounded up */
  get msiQmax(): number {
    return this.qmax;
  }

  /** Host vectors this device holds. */
  get hostVectors(): number[] {
    return [...this.vectors.values()].map((c) => c.host);
  }

  // ---- GET_IRQ_INFO ----

  /** The number of vectors of an index, from the hardware as vfio-pci reads it. */
  count(index: number): number {
    const fn = this.fn;
    switch (index) {
      case IRQ.INTX:
        // SR-IOV VFs never have INTx
        if (fn.vf) return 0;
        return fn.configRead(R.PCI_INTERRUPT_PIN, 1) ? 1 : 0;
      case IRQ.MSI:
        if (!this.hw.msi) return 0;
        return 1 << ((fn.configRead(this.hw.msi.capOffset + R.PCI_MSI_FLAGS, 2) & R.PCI_MSI_FLAGS_QMASK) >> 1);
      case IRQ.MSIX:
        if (!this.hw.msix) return 0;
        return (fn.configRead(this.hw.msix.capOffset + R.PCI_MSIX_FLAGS, 2) & R.PCI_MSIX_FLAGS_QSIZE) + 1;
      case IRQ.ERR:
        return fn.isPciExpress ? 1 : 0;
      case IRQ.REQ:
        return 1;
      default:
        return 0;
    }
  }

  info(index: number): { flags: number; count: number } {
    if (index >= IRQ.NUM) throw new Errno("EINVAL", `index ${index} is not below ${IRQ.NUM}`, "VFIO_DEVICE_GET_IRQ_INFO");
    if (index === IRQ.ERR && !this.fn.isPciExpress) {
      throw new Errno("EINVAL", "the ERR index exists only for PCI Express functions", "VFIO_DEVICE_GET_IRQ_INFO");
    }
    let flags = EVENTFD;
    if (index === IRQ.INTX) flags |= MASKABLE | AUTOMASKED;
    else if (!(index === IRQ.MSIX && this.opts.dynamicMsix)) flags |= NORESIZE;
    return { flags, count: this.count(index) };
  }

  // ---- SET_IRQS dispatch ----

  /** Run a validated SET_IRQS; returns 0, or the smaller vector count an MSI/MSI-X enable could get. */
  set(flags: number, index: number, start: number, count: number, data: IrqData): number {
    const action = flags & VFIO_IRQ_SET_MASKS.VFIO_IRQ_SET_ACTION_TYPE_MASK;
    const { ACTION_MASK: MASK, ACTION_UNMASK: UNMASK, ACTION_TRIGGER: TRIGGER } = VFIO_IRQ_SET.bits;
    switch (index) {
      case IRQ.INTX:
        if (action === MASK) return this.intxMaskAction(start, count, data);
        if (action === UNMASK) return this.intxUnmaskAction(start, count, data);
        if (action === TRIGGER) return this.intxTriggerAction(start, count, data);
        break;
      case IRQ.MSI:
      case IRQ.MSIX:
        if (action === TRIGGER) return this.msiTriggerAction(index, start, count, data);
        break;
      case IRQ.ERR:
        if (action === TRIGGER && this.fn.isPciExpress) return this.singleAction("err", start, count, data);
        break;
      case IRQ.REQ:
        if (action === TRIGGER) return this.singleAction("req", start, count, data);
        break;
    }
    throw new Errno("ENOTTY", `index ${index} has no action 0x${action.toString(16)} (exactly one supported action is needed)`, SET_IRQS);
  }

  private eventfd(fd: number): EventFd {
    const f = this.kernel.file(fd, SET_IRQS);
    if (!(f instanceof EventFd)) throw new Errno("EINVAL", `fd ${fd} is a ${f.kind}, not an eventfd`, SET_IRQS);
    return f;
  }

  // ---- INTx ----

  private requireIntx(start: number, count: number, what: string): void {
    if (this.active !== IRQ.INTX) throw new Errno("EINVAL", `${what} needs INTx to be the active interrupt type`, SET_IRQS);
    if (start !== 0 || count !== 1) throw new Errno("EINVAL", `${what} takes start 0 and count 1`, SET_IRQS);
  }

  private intxMaskAction(start: number, count: number, data: IrqData): number {
    this.requireIntx(start, count, "INTx MASK");
    if (data.isEventfd) throw new Errno("ENOTTY", "INTx MASK has no eventfd form", SET_IRQS);
    if (data.none || data.bool(0)) this.intxMask();
    return 0;
  }

  private intxUnmaskAction(start: number, count: number, data: IrqData): number {
    this.requireIntx(start, count, "INTx UNMASK");
    if (data.isEventfd) {
      const fd = data.fd(0);
      if (fd >= 0) this.enableUnmaskFd(fd);
      else this.disableUnmaskFd();
    } else if (data.none || data.bool(0)) {
      this.intxUnmask();
    }
    return 0;
  }

  private intxTriggerAction(start: number, count: number, data: IrqData): number {
    if (this.active === IRQ.INTX && count === 0 && data.none) {
      this.intxDisable();
      return 0;
    }
    if (this.active !== IRQ.INTX && this.active !== IRQ.NUM) {
      throw new Errno("EINVAL", "another interrupt type is active; disable it first", SET_IRQS);
    }
    if (start !== 0 || count !== 1) throw new Errno("EINVAL", "INTx TRIGGER takes start 0 and count 1", SET_IRQS);
    if (data.isEventfd) {
      const fd = data.fd(0);
      const trigger = fd >= 0 ? this.eventfd(fd) : null;
      if (this.active !== IRQ.INTX) this.intxEnable();
      this.intxTrigger = trigger;
      this.intxCheckLevel();
      return 0;
    }
    if (this.active !== IRQ.INTX) throw new Errno("EINVAL", "INTx loopback needs INTx to be active", SET_IRQS);
    if (data.none || data.bool(0)) this.sendIntx();
    return 0;
  }

  private setPhysIntxDisable(disable: boolean): void {
    const cmd = this.fn.configRead(R.PCI_COMMAND, 2);
    const next = disable ? cmd | R.PCI_COMMAND_INTX_DISABLE : cmd & ~R.PCI_COMMAND_INTX_DISABLE;
    if (next !== cmd) this.fn.configWrite(R.PCI_COMMAND, 2, next);
  }

  private intxEnable(): void {
    this.active = IRQ.INTX;
    this.intxMasked = this.virqDisabled;
    this.setPhysIntxDisable(this.intxMasked);
  }

  private intxDisable(): void {
    this.disableUnmaskFd();
    this.intxTrigger = null;
    this.active = IRQ.NUM;
  }

  /** A level already asserted when the handler appears fires at once. */
  private intxCheckLevel(): void {
    if (this.hw.intx?.pinDriven) this.onIntx({ kind: "intx", vector: 0, address: 0n, data: 1, time: 0 });
  }

  private sendIntx(): void {
    if (this.active === IRQ.INTX && !this.virqDisabled) this.intxTrigger?.signal();
  }

  /** The handler lives as long as INTx mode (Linux 6.9+): it masks even when no eventfd is installed. */
  private readonly onIntx = (msg: InterruptMessage): void => {
    if (msg.data !== 1) return; // deassertion
    if (this.active !== IRQ.INTX || this.intxMasked) return;
    this.setPhysIntxDisable(true);
    this.intxMasked = true;
    this.sendIntx();
  };

  private intxMask(): void {
    // outside INTx mode the real bit simply follows the virtual one
    if (this.active !== IRQ.INTX) this.setPhysIntxDisable(true);
    else if (!this.intxMasked) {
      this.setPhysIntxDisable(true);
      this.intxMasked = true;
    }
  }

  /** Returns true when the line is still asserted: it stays masked and the user is signalled again. */
  private intxUnmaskOnly(): boolean {
    if (this.active !== IRQ.INTX) {
      this.setPhysIntxDisable(false);
      return false;
    }
    if (!this.intxMasked || this.virqDisabled) return false;
    if (this.fn.configRead(R.PCI_STATUS, 2) & R.PCI_STATUS_INTERRUPT) return true;
    this.setPhysIntxDisable(false);
    this.intxMasked = false;
    return false;
  }

  private intxUnmask(): void {
    if (this.intxUnmaskOnly()) this.sendIntx();
  }

  private enableUnmaskFd(fd: number): void {
    if (this.unmaskFd) throw new Errno("EBUSY", "an unmask eventfd is already registered; remove it with fd -1 first", SET_IRQS);
    const efd = this.eventfd(fd);
    const off = efd.onSignal(() => this.unmaskFdFired(efd));
    this.unmaskFd = { efd, off };
    if (efd.count > 0n) this.unmaskFdFired(efd);
  }

  private disableUnmaskFd(): void {
    this.unmaskFd?.off();
    this.unmaskFd = null;
  }

  private unmaskFdFired(efd: EventFd): void {
    if (this.inUnmaskFd) return;
    this.inUnmaskFd = true;
    try {
      // the kernel consumes the count, as its eventfd waker does
      if (efd.count > 0n) efd.read(new Uint8Array(8));
      this.intxUnmask();
    } finally {
      this.inUnmaskFd = false;
    }
  }

  /** The config write path saw the user's INTx Disable bit. */
  intxDisableWritten(disabled: boolean): void {
    if (disabled && !this.virqDisabled) {
      this.virqDisabled = true;
      this.intxMask();
    } else if (!disabled && this.virqDisabled) {
      this.virqDisabled = false;
      this.intxUnmask();
    }
  }

  // ---- MSI / MSI-X ----

  private msiTriggerAction(index: number, start: number, count: number, data: IrqData): number {
    if (this.active === index && count === 0 && data.none) {
      this.msiDisable();
      return 0;
    }
    if (this.active !== index && this.active !== IRQ.NUM) {
      throw new Errno("EINVAL", "another interrupt type is active; disable it first", SET_IRQS);
    }
    if (data.isEventfd) {
      if (this.active === index) {
        this.setBlock(index, start, count, data);
        return 0;
      }
      const short = this.msiEnable(index, start + count);
      if (short !== 0) return short;
      try {
        this.setBlock(index, start, count, data);
      } catch (e) {
        this.msiDisable();
        throw e;
      }
      return 0;
    }
    if (this.active !== index) throw new Errno("EINVAL", "loopback needs this interrupt type to be active", SET_IRQS);
    for (let v = start; v < start + count; v++) {
      const trigger = this.vectors.get(v)?.trigger;
      if (trigger && (data.none || data.bool(v - start))) trigger.signal();
    }
    return 0;
  }

  /** Returns 0, or the positive number of vectors the host could give when fewer than nvec. */
  private msiEnable(index: number, nvec: number): number {
    const msix = index === IRQ.MSIX;
    if (nvec === 0) throw new Errno("ERANGE", "enabling with 0 vectors", SET_IRQS);
    const got = this.pool.allocate(nvec, !msix, SET_IRQS);
    if ("short" in got) return got.short;
    got.vectors.forEach((host, v) => this.vectors.set(v, { host, trigger: null }));
    this.active = index;
    if (msix) this.programMsix();
    else {
      this.qmax = Math.log2(nextPowerOfTwo(nvec));
      this.programMsi();
    }
    return 0;
  }

  private msiDisable(): void {
    const msix = this.active === IRQ.MSIX;
    for (const [v, ctx] of this.vectors) if (ctx.trigger) this.teardown(v, ctx);
    if (msix) {
      const m = this.hw.msix!;
      this.opts.withMemory(() => {
        for (const v of this.vectors.keys()) this.writeMsixEntry(v, null);
      });
      this.writeCtrl(m.capOffset + R.PCI_MSIX_FLAGS, (c) => c & ~(R.PCI_MSIX_FLAGS_ENABLE | R.PCI_MSIX_FLAGS_MASKALL));
    } else {
      this.writeCtrl(this.hw.msi!.capOffset + R.PCI_MSI_FLAGS, (c) => c & ~(R.PCI_MSI_FLAGS_ENABLE | R.PCI_MSI_FLAGS_QSIZE));
    }
    this.pool.give(this.hostVectors);
    this.vectors.clear();
    this.active = IRQ.NUM;
  }

  private setBlock(index: number, start: number, count: number, data: IrqData): void {
    let v = start;
    try {
      for (; v < start + count; v++) this.setVectorSignal(index, v, data.fd(v - start));
    } catch (e) {
      // the vectors this call already changed are left without a trigger
      for (let u = start; u <= v && u < start + count; u++) this.setVectorSignal(index, u, -1);
      throw e;
    }
  }

  private setVectorSignal(index: number, v: number, fd: number): void {
    let ctx = this.vectors.get(v);
    if (ctx?.trigger) this.teardown(v, ctx);
    if (fd < 0) return;
    const trigger = this.eventfd(fd);
    if (!ctx) {
      if (index !== IRQ.MSIX || !this.opts.dynamicMsix) {
        throw new Errno("EINVAL", `vector ${v} was not allocated when the index was enabled; disable and re-enable with more vectors`, SET_IRQS);
      }
      const host = this.pool.take(1);
      if (!host) throw new Errno("ENOSPC", "no host interrupt vector is free", SET_IRQS);
      ctx = { host: host[0]!, trigger: null };
      this.vectors.set(v, ctx);
    }
    ctx.trigger = trigger;
    if (index === IRQ.MSIX) {
      // refresh the message: a reset behind our back may have cleared the table
      this.opts.withMemory(() => this.writeMsixEntry(v, ctx));
    } else {
      this.setMsiMask(v, false);
    }
  }

  private teardown(v: number, ctx: VectorCtx): void {
    ctx.trigger = null;
    if (this.active === IRQ.MSIX) this.opts.withMemory(() => this.writeMsixEntry(v, ctx));
    else this.setMsiMask(v, true);
  }

  private writeCtrl(offset: number, change: (c: number) => number): void {
    this.fn.configWrite(offset, 2, change(this.fn.configRead(offset, 2)));
  }

  /** Program one MSI-X table entry: the host message, masked unless an eventfd is attached; null masks it. */
  private writeMsixEntry(v: number, ctx: VectorCtx | null): void {
    const m = this.hw.msix!;
    const entry = m.tableOffset + R.PCI_MSIX_ENTRY_SIZE * v;
    try {
      if (ctx) {
        this.fn.mmioWrite(m.tableBar, entry + R.PCI_MSIX_ENTRY_VECTOR_CTRL, 4, R.PCI_MSIX_ENTRY_CTRL_MASKBIT);
        this.fn.mmioWrite(m.tableBar, entry + R.PCI_MSIX_ENTRY_LOWER_ADDR, 4, Number(HOST_MSI_ADDRESS & 0xffff_ffffn));
        this.fn.mmioWrite(m.tableBar, entry + R.PCI_MSIX_ENTRY_UPPER_ADDR, 4, Number(HOST_MSI_ADDRESS >> 32n));
        this.fn.mmioWrite(m.tableBar, entry + R.PCI_MSIX_ENTRY_DATA, 4, ctx.host);
      }
      const masked = !ctx?.trigger;
      this.fn.mmioWrite(m.tableBar, entry + R.PCI_MSIX_ENTRY_VECTOR_CTRL, 4, masked ? R.PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
    } catch (e) {
      // a VF whose PF has VF memory decoding off: the write is lost, as on a real bus
      if (!(e instanceof PciDecodeError)) throw e;
    }
  }

  private programMsix(): void {
    const m = this.hw.msix!;
    const ctrl = m.capOffset + R.PCI_MSIX_FLAGS;
    this.writeCtrl(ctrl, (c) => c | R.PCI_MSIX_FLAGS_ENABLE | R.PCI_MSIX_FLAGS_MASKALL);
    this.opts.withMemory(() => {
      for (const [v, ctx] of this.vectors) this.writeMsixEntry(v, ctx);
    });
    this.writeCtrl(ctrl, (c) => c & ~R.PCI_MSIX_FLAGS_MASKALL);
  }

  private msiDataOffset(m: MsiController): number {
    return m.capOffset + (m.address64 ? 0x0c : 0x08);
  }

  private programMsi(): void {
    const m = this.hw.msi!;
    const fn = this.fn;
    const first = this.vectors.get(0)!.host;
    fn.configWrite(m.capOffset + R.PCI_MSI_ADDRESS_LO, 4, Number(HOST_MSI_ADDRESS & 0xffff_ffffn));
    if (m.address64) fn.configWrite(m.capOffset + 8, 4, Number(HOST_MSI_ADDRESS >> 32n));
    fn.configWrite(this.msiDataOffset(m), 2, first);
    if (m.perVectorMask) {
      // every vector masked except those with an eventfd
      let bits = 0;
      for (let v = 0; v < m.vectors; v++) if (!this.vectors.get(v)?.trigger) bits |= 1 << v;
      fn.configWrite(this.msiDataOffset(m) + 4, 4, bits >>> 0);
    }
    const mme = Math.log2(nextPowerOfTwo(this.vectors.size));
    this.writeCtrl(m.capOffset + R.PCI_MSI_FLAGS, (c) => (c & ~R.PCI_MSI_FLAGS_QSIZE) | (mme << 4) | R.PCI_MSI_FLAGS_ENABLE);
  }

  private setMsiMask(v: number, masked: boolean): void {
    const m = this.hw.msi!;
    if (!m.perVectorMask) return;
    const reg = this.msiDataOffset(m) + 4;
    const cur = this.fn.configRead(reg, 4);
    this.fn.configWrite(reg, 4, (masked ? cur | (1 << v) : cur & ~(1 << v)) >>> 0);
  }

  private readonly onVector = (index: number, v: number, msg: InterruptMessage): void => {
    if (this.active !== index) return;
    const ctx = this.vectors.get(v);
    if (!ctx?.trigger) return;
    // interrupt remapping only lets through the messages the host programmed
    if (msg.address !== HOST_MSI_ADDRESS || msg.data !== ctx.host) return;
    ctx.trigger.signal();
  };

  // ---- ERR / REQ ----

  private singleAction(which: "err" | "req", start: number, count: number, data: IrqData): number {
    if (start !== 0 || count > 1) throw new Errno("EINVAL", `${which.toUpperCase()} takes start 0 and count 0 or 1`, SET_IRQS);
    const key = which === "err" ? "errTrigger" : "reqTrigger";
    const cur = this[key];
    if (data.none) {
      if (!cur) throw new Errno("EINVAL", `no ${which.toUpperCase()} eventfd is installed`, SET_IRQS);
      if (count) cur.signal();
      else this[key] = null;
      return 0;
    }
    if (count === 0) throw new Errno("EINVAL", `${which.toUpperCase()} with BOOL or EVENTFD data needs count 1`, SET_IRQS);
    if (data.isBool) {
      if (data.bool(0)) cur?.signal();
      return 0;
    }
    const fd = data.fd(0);
    if (fd === -1) this[key] = null;
    else if (fd >= 0) this[key] = this.eventfd(fd);
    return 0;
  }

  /** AER reported an error on the function: tell the user (lab hook; Linux does it from its AER handler). */
  reportError(): boolean {
    if (!this.errTrigger) return false;
    this.errTrigger.signal();
    return true;
  }

  /** The host wants the device back (driver unbind): tell the user through the REQ eventfd. */
  requestRelease(): boolean {
    if (!this.reqTrigger) return false;
    this.reqTrigger.signal();
    return true;
  }

  // ---- lifecycle ----

  /** Attach the kernel's handlers to the function's interrupt sources (device open). */
  attach(): void {
    const { msix, msi, intx } = this.hw;
    if (msix) for (let v = 0; v < msix.vectors; v++) msix.setConsumer(v, (m) => this.onVector(IRQ.MSIX, v, m));
    if (msi) for (let v = 0; v < msi.vectors; v++) msi.setConsumer(v, (m) => this.onVector(IRQ.MSI, v, m));
    intx?.setConsumer(this.onIntx);
  }

  /** Tear everything down (last close): the active type, the ERR/REQ eventfds, the handlers. */
  release(): void {
    if (this.active === IRQ.INTX) this.intxDisable();
    else if (this.active !== IRQ.NUM) this.msiDisable();
    this.errTrigger = null;
    this.reqTrigger = null;
    this.virqDisabled = false;
    const { msix, msi, intx } = this.hw;
    if (msix) for (let v = 0; v < msix.vectors; v++) msix.setConsumer(v, null);
    if (msi) for (let v = 0; v < msi.vectors; v++) msi.setConsumer(v, null);
    intx?.setConsumer(null);
  }

  /** Put the interrupt programming back after a function reset cleared it (pci_restore_msi_state). */
  reprogram(): void {
    if (this.active === IRQ.MSIX) this.programMsix();
    else if (this.active === IRQ.MSI) this.programMsi();
    else if (this.active === IRQ.INTX) this.setPhysIntxDisable(this.intxMasked);
  }
}
