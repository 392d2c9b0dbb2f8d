/**
 * One PCI function: its configuration space (type 0 header, capabilities),
 * its BARs and what sits behind them, the command register's effects, and
 * function-level reset.
 *
 * Device models own a PciFunction and hand it their register handlers; the
 * bus gives it an address. Everything a host kernel can do to the function
 * goes through `configRead`/`configWrite` and `mmioRead`/`mmioWrite`.
 */
import {
  type BarDefinition,
  type BarSpec,
  type MmioHandler,
  defineBarRegisters,
  readBarAddress,
  validateBarSpec,
} from "./bar.js";
import { type AccessSize, ConfigSpace, isAccessSize } from "./config-space.js";
import { CapabilityChain, type PciExpressOptions, addPciExpress, addPowerManagement } from "./capabilities.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_COMMAND_SERR,
  PCI_DEVICE_ID,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_BCR_FLR,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_MULTI_FUNCTION,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_NUM_BARS,
  PCI_REVISION_ID,
  PCI_ROM_ADDRESS,
  PCI_STATUS,
  PCI_STATUS_ERROR_BITS,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "../../uapi/pci-regs.js";

/** Thrown when an MMIO/IO access reaches a BAR whose decoding is disabled (or that does not exist). */
export class PciDecodeError extends Error {
  constructor(
    message: string,
    readonly reason: "memory-disabled" | "io-disabled" | "no-bar" | "out-of-range" | "bad-access",
  ) {
    super(message);
    this.name = "PciDecodeError";
  }
}

/**
 * How a virtual function's resources are provided by its PF: VF BAR
 * addresses come from the PF's SR-IOV capability, and memory decoding is
 * enabled by the PF's VF Memory Space Enable bit rather than the VF's own
 * command register (whose memory/IO bits are read-only zero on a VF).
 */
export interface VfBacking {
  readonly pf: PciFunction;
  /** zero-based VF number */
  readonly index: number;
  barSpec(bar: number): BarSpec | undefined;
  barAddress(bar: number): bigint | null;
  memoryEnabled(): boolean;
}

export interface PciFunctionOptions {
  /** label used in logs and lab output */
  name?: string;
  vendorId: number;
  deviceId: number;
  /** 24-bit class code: base class << 16 | subclass << 8 | programming interface */
  classCode: number;
  revisionId?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** 0 = no INTx, 1..4 = INTA..INTD */
  interruptPin?: number;
  multiFunction?: boolean;
  /** PCI Express capability (default: endpoint with FLR); false = conventional PCI, 256-byte config */
  pcie?: false | PciExpressOptions;
  /** power management capability (default true) */
  powerManagement?: boolean;
  bars?: Partial<Record<number, BarDefinition>>;
  /** set for SR-IOV virtual functions */
  vf?: VfBacking;
}

/**
 * What a function knows of the bus it sits on: enough for a physical function to plug in
 * and unplug its virtual functions (PciBus is one).
 */
export interface BusAttachment {
  attach(fn: PciFunction, rid: number): void;
  detach(rid: number): PciFunction;
}

/** A BAR as it decodes now: the address range the function answers on. */
export interface BarWindow {
  fn: PciFunction;
  bar: number;
  kind: BarSpec["kind"];
  base: bigint;
  size: number;
}

interface Overlay {
  bar: number;
  offset: number;
  length: number;
  handler: MmioHandler;
}

type ResetHook = () => void;

/** Decides whether a posted write from a peer device is accepted (false = refused, the write is lost). */
export type PeerWriteFilter = (bar: number, offset: number, data: Uint8Array) => boolean;

export class PciFunction {
  readonly name: string;
  readonly config: ConfigSpace;
  readonly caps: CapabilityChain;
  readonly vf: VfBacking | undefined;
  /** offset of the PCI Express capability, if any */
  readonly pcieCap: number | undefined;
  /** offset of the power management capability, if any */
  readonly pmCap: number | undefined;
  private readonly bars: (BarDefinition | undefined)[] = new Array(PCI_NUM_BARS).fill(undefined);
  private readonly overlays: Overlay[] = [];
  private readonly resetHooks: ResetHook[] = [];
  private readonly decodeListeners = new Set<() => void>();
  private peerFilter: PeerWriteFilter | null = null;
  private sealed = false;
  private rid: number | null = null;
  private busRef: BusAttachment | null = null;
  private resets = 0;

  constructor(opts: PciFunctionOptions) {
    this.name = opts.name ?? `${hex4(opts.vendorId)}:${hex4(opts.deviceId)}`;
    this.vf = opts.vf;
    const pcie = opts.pcie === false ? undefined : (opts.pcie ?? {});
    this.config = new ConfigSpace(pcie !== undefined);
    this.caps = new CapabilityChain(this.config);
    this.defineHeader(opts);
    for (const [key, def] of Object.entries(opts.bars ?? {})) {
      if (def) this.defineBar(Number(key), def);
    }
    this.pmCap = opts.powerManagement === false ? undefined : addPowerManagement(this.config, this.caps);
    this.pcieCap = pcie ? addPciExpress(this.config, this.caps, pcie) : undefined;
    this.installWatchers();
  }

  private defineHeader(opts: PciFunctionOptions): void {
    const cfg = this.config;
    const isVf = opts.vf !== undefined;
    cfg.define(PCI_VENDOR_ID, 2, opts.vendorId & 0xffff);
    cfg.define(PCI_DEVICE_ID, 2, opts.deviceId & 0xffff);
    // A VF's I/O and memory enables are reserved (decoding is controlled by the PF).
    const cmdRw =
      PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE |
      (isVf ? 0 : PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    cfg.define(PCI_COMMAND, 2, 0, { rw: cmdRw });
    cfg.define(PCI_STATUS, 2, 0, { w1c: PCI_STATUS_ERROR_BITS });
    cfg.define(PCI_REVISION_ID, 1, opts.revisionId ?? 0);
    cfg.define(PCI_CLASS_PROG, 3, opts.classCode & 0xffffff);
    cfg.define(0x0c, 1, 0, { rw: 0xff }); // cache line size
    cfg.define(PCI_HEADER_TYPE, 1, opts.multiFunction ? PCI_HEADER_TYPE_MULTI_FUNCTION : 0);
    cfg.define(PCI_SUBSYSTEM_VENDOR_ID, 2, opts.subsystemVendorId ?? opts.vendorId);
    cfg.define(PCI_SUBSYSTEM_ID, 2, opts.subsystemId ?? 0);
    cfg.define(PCI_ROM_ADDRESS, 4, 0); // no expansion ROM
    const pin = isVf ? 0 : (opts.interruptPin ?? 0);
    if (!Number.isInteger(pin) || pin < 0 || pin > 4) throw new RangeError(`interrupt pin ${pin} not in 0..4`);
    cfg.define(PCI_INTERRUPT_LINE, 1, pin ? 0xff : 0, { rw: pin ? 0xff : 0 });
    cfg.define(PCI_INTERRUPT_PIN, 1, pin);
  }

  private installWatchers(): void {
    this.config.watch(PCI_COMMAND, 2, (before, after) => {
      if ((before ^ after) & (PCI_COMMAND_MEMORY | PCI_COMMAND_IO)) this.notifyDecodeChange();
    });
    this.config.watchRange(PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS, () => this.notifyDecodeChange());
    if (this.pcieCap !== undefined) {
      const devctl = this.pcieCap + PCI_EXP_DEVCTL;
      this.config.watch(devctl, 2, (_before, after) => {
        if (after & PCI_EXP_DEVCTL_BCR_FLR) this.reset();
      });
    }
  }

  /** Adds a BAR (before the function is attached to a bus). */
  defineBar(index: number, def: BarDefinition): void {
    this.assertUnsealed("define a BAR");
    const slots = validateBarSpec(index, def);
    if (this.bars[index] || (slots === 2 && this.bars[index + 1])) throw new Error(`BAR${index} already defined`);
    if (index > 0 && this.bars[index - 1]?.kind === "mem64") throw new Error(`BAR${index} is the upper half of BAR${index - 1}`);
    if (this.vf) {
      const expected = this.vf.barSpec(index);
      if (!expected || expected.kind !== def.kind || expected.size !== def.size) {
        throw new Error(`VF BAR${index} must match the PF's SR-IOV VF BAR${index}`);
      }
      // VF BAR registers are read-only zero; addresses come from the PF.
    } else {
      defineBarRegisters(this.config, index, def);
    }
    this.bars[index] = def;
  }

  /**
   * Routes [offset, offset+length) of a BAR to another handler (used for the
   * MSI-X table and PBA, which live inside a device BAR).
   */
  addBarOverlay(bar: number, offset: number, length: number, handler: MmioHandler): void {
    const def = this.bars[bar];
    if (!def) throw new Error(`BAR${bar} is not defined`);
    if (offset < 0 || length <= 0 || offset + length > def.size) throw new RangeError(`overlay outside BAR${bar}`);
    if (this.overlays.some((o) => o.bar === bar && o.offset < offset + length && offset < o.offset + o.length)) {
      throw new Error(`overlay overlaps another one in BAR${bar}`);
    }
    this.overlays.push({ bar, offset, length, handler });
  }

  /** Called by the bus when the function becomes visible: the current config becomes the reset state. */
  seal(): void {
    if (this.sealed) return;
    this.config.captureDefaults();
    this.sealed = true;
  }

  get isSealed(): boolean {
    return this.sealed;
  }

  assertUnsealed(what: string): void {
    if (this.sealed) throw new Error(`cannot ${what} after the function was attached to a bus`);
  }

  /** Set by the bus on attach (both non-null) and detach (both null). */
  setAttachment(bus: BusAttachment | null, rid: number | null): void {
    this.busRef = bus;
    this.rid = rid;
  }

  /** The bus the function is attached to. */
  get bus(): BusAttachment {
    if (!this.busRef) throw new Error(`${this.name} is not attached to a bus`);
    return this.busRef;
  }

  get routingId(): number {
    if (this.rid === null) throw new Error(`${this.name} is not attached to a bus`);
    return this.rid;
  }

  get attached(): boolean {
    return this.rid !== null;
  }

  get vendorId(): number {
    return this.config.peek(PCI_VENDOR_ID, 2);
  }

  get deviceId(): number {
    return this.config.peek(PCI_DEVICE_ID, 2);
  }

  get isPciExpress(): boolean {
    return this.pcieCap !== undefined;
  }

  get flrCapable(): boolean {
    return this.pcieCap !== undefined && (this.config.peek(this.pcieCap + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR) !== 0;
  }

  get interruptPin(): number {
    return this.config.peek(PCI_INTERRUPT_PIN, 1);
  }

  // ---- configuration space (software view) ----

  configRead(offset: number, size: AccessSize): number {
    return this.config.read(offset, size);
  }

  configWrite(offset: number, size: AccessSize, value: number): void {
    this.config.write(offset, size, value);
  }

  // ---- command register effects ----

  command(): number {
    return this.config.peek(PCI_COMMAND, 2);
  }

  /** Memory Space Enable (for a VF: the PF's VF MSE bit). */
  memoryDecodeEnabled(): boolean {
    if (this.vf) return this.vf.memoryEnabled();
    return (this.command() & PCI_COMMAND_MEMORY) !== 0;
  }

  ioDecodeEnabled(): boolean {
    if (this.vf) return false;
    return (this.command() & PCI_COMMAND_IO) !== 0;
  }

  /** Bus Master Enable: a function may issue DMA (and MSI/MSI-X writes) only while this is true. */
  busMasterEnabled(): boolean {
    return (this.command() & PCI_COMMAND_MASTER) !== 0;
  }

  intxDisabled(): boolean {
    return (this.command() & PCI_COMMAND_INTX_DISABLE) !== 0;
  }

  // ---- BARs ----

  bar(index: number): BarDefinition | undefined {
    return this.bars[index];
  }

  /** Indices of implemented BARs (the upper half of a 64-bit BAR is not listed). */
  barIndices(): number[] {
    return this.bars.flatMap((b, i) => (b ? [i] : []));
  }

  /** The address the BAR is programmed with, or null if the BAR does not exist. */
  barAddress(index: number): bigint | null {
    const def = this.bars[index];
    if (!def) return null;
    if (this.vf) return this.vf.barAddress(index);
    return readBarAddress(this.config, index, def);
  }

  /** BARs currently decoded (their space enabled), with their addresses. */
  decodedWindows(): BarWindow[] {
    const out: BarWindow[] = [];
    for (const i of this.barIndices()) {
      const def = this.bars[i]!;
      const enabled = def.kind === "io" ? this.ioDecodeEnabled() : this.memoryDecodeEnabled();
      const base = this.barAddress(i);
      if (!enabled || base === null) continue;
      out.push({ fn: this, bar: i, kind: def.kind, base, size: def.size });
    }
    return out;
  }

  /** Called whenever a BAR address or a decode enable may have changed. Returns an unsubscribe. */
  onDecodeChange(listener: () => void): () => void {
    this.decodeListeners.add(listener);
    return () => this.decodeListeners.delete(listener);
  }

  /** For VF backings and resets: tells listeners to re-read the windows. */
  notifyDecodeChange(): void {
    for (const l of [...this.decodeListeners]) l();
  }

  private route(bar: number, offset: number, size: number): { handler: MmioHandler; offset: number } {
    const def = this.bars[bar];
    if (!def) throw new PciDecodeError(`${this.name}: BAR${bar} does not exist`, "no-bar");
    if (!isAccessSize(size) || !Number.isInteger(offset) || offset % size !== 0) {
      throw new PciDecodeError(`${this.name}: bad BAR${bar} access of ${size} bytes at ${offset}`, "bad-access");
    }
    if (offset < 0 || offset + size > def.size) {
      throw new PciDecodeError(`${this.name}: access beyond BAR${bar} (${def.size} bytes)`, "out-of-range");
    }
    if (def.kind === "io" ? !this.ioDecodeEnabled() : !this.memoryDecodeEnabled()) {
      throw new PciDecodeError(
        `${this.name}: BAR${bar} access with ${def.kind === "io" ? "I/O" : "memory"} decoding disabled`,
        def.kind === "io" ? "io-disabled" : "memory-disabled",
      );
    }
    for (const o of this.overlays) {
      if (o.bar === bar && offset >= o.offset && offset + size <= o.offset + o.length) {
        return { handler: o.handler, offset: offset - o.offset };
      }
    }
    return { handler: def.handler, offset };
  }

  /** A read of a BAR at an offset (what a CPU load or a peer's read decodes to). */
  mmioRead(bar: number, offset: number, size: AccessSize): number {
    const r = this.route(bar, offset, size);
    return r.handler.read(r.offset, size) >>> 0;
  }

  mmioWrite(bar: number, offset: number, size: AccessSize, value: number): void {
    const r = this.route(bar, offset, size);
    r.handler.write(r.offset, size, value >>> 0);
  }

  // ---- peer-to-peer ----

  /** Lets the device model refuse peer writes (e.g. while it is stopped). */
  setPeerWriteFilter(filter: PeerWriteFilter | null): void {
    this.peerFilter = filter;
  }

  /**
   * A posted write from another device landing in BAR `bar` at `offset`.
   * Split into naturally aligned accesses of up to 4 bytes. Returns false
   * when refused (no decoding, outside the BAR, or the device's filter).
   */
  peerWrite(bar: number, offset: number, data: Uint8Array): boolean {
    const def = this.bars[bar];
    if (!def || def.kind === "io" || !this.memoryDecodeEnabled()) return false;
    if (offset < 0 || offset + data.length > def.size) return false;
    if (this.peerFilter && !this.peerFilter(bar, offset, data)) return false;
    forEachAlignedPiece(offset, data.length, (o, size, at) => {
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = v * 256 + data[at + i]!;
      this.mmioWrite(bar, o, size, v);
    });
    return true;
  }

  /** A read from another device; false when refused (the reader sees all ones). */
  peerRead(bar: number, offset: number, dst: Uint8Array): boolean {
    const def = this.bars[bar];
    if (!def || def.kind === "io" || !this.memoryDecodeEnabled()) return false;
    if (offset < 0 || offset + dst.length > def.size) return false;
    forEachAlignedPiece(offset, dst.length, (o, size, at) => {
      const v = this.mmioRead(bar, o, size);
      for (let i = 0; i < size; i++) dst[at + i] = (v >>> (8 * i)) & 0xff;
    });
    return true;
  }

  // ---- reset ----

  /** Hooks run after config space is back to its defaults, in registration order. */
  onReset(hook: ResetHook): void {
    this.resetHooks.push(hook);
  }

  /** Number of function-level resets so far (lab/diagnostics). */
  get resetCount(): number {
    return this.resets;
  }

  /**
   * Function-level reset: config space back to reset values (BARs, command,
   * capability control bits), then capabilities and the device model reset
   * their own state. Triggered by Initiate FLR or directly (e.g. by a bus reset).
   */
  reset(): void {
    if (!this.sealed) throw new Error(`${this.name}: reset before the function was attached`);
    this.resets++;
    this.config.restoreDefaults();
    for (const hook of this.resetHooks) hook();
    this.notifyDecodeChange();
  }
}

/** Walks [offset, offset+length) in the largest naturally aligned pieces of 1, 2 or 4 bytes. */
function forEachAlignedPiece(offset: number, length: number, fn: (offset: number, size: AccessSize, at: number) => void): void {
  let o = offset;
  let at = 0;
  while (at < length) {
    const left = length - at;
    const size: AccessSize = o % 4 === 0 && left >= 4 ? 4 : o % 2 === 0 && left >= 2 ? 2 : 1;
    fn(o, size, at);
    o += size;
    at += size;
  }
}

function hex4(n: number): string {
  return (n & 0xffff).toString(16).padStart(4, "0");
}

