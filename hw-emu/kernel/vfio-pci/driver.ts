/**
 * vfio-pci: the VFIO driver for a PCI function. It answers the device fd's
 * ioctls (GET_INFO, GET_REGION_INFO, GET_IRQ_INFO, SET_IRQS, RESET, the hot
 * reset pair, IOEVENTFD), region reads, writes and mmaps, the PCI_VF_TOKEN
 * feature and the VF token check on open.
 *
 * Variant drivers build on it in either of two ways:
 * - pass `migration` / `logging` ops (and `driverName`) in the options;
 * - or subclass it: add device-specific regions with `addRegion()` (each gets
 *   a TYPE capability, e.g. the v1 migration region), device capabilities with
 *   `deviceCapabilities()`, a different config size with `configRegionSize()`,
 *   their own reset with `canReset()` / `resetFunction()`, and extra ioctls or
 *   features by overriding `ioctl()` / `feature()` and falling back to super.
 */
import {
  type Capability,
  Errno,
  IO,
  IOCTL,
  MMAP,
  type Mapping,
  VFIO,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_FLAG,
  VFIO_DEVICE_FLAGS,
  VFIO_PCI_IRQ,
  VFIO_REGION_INFO_FLAG,
  buildCapChain,
  vfio_device_info,
  vfio_irq_info,
  vfio_irq_set,
  vfio_region_info,
} from "../../uapi/index.js";
import type { IoctlArg } from "../file.js";
import type { Kernel } from "../kernel.js";
import type { LoggingOps, MigrationOps, VfioDriver } from "../vfio/driver.js";
import { argBytes } from "../user-args.js";
import type { PciFunction } from "../../hw/pci/function.js";
import type { MmioHandler } from "../../hw/pci/bar.js";
import type { MsixController } from "../../hw/msix.js";
import type { MsiController } from "../../hw/msi.js";
import type { IntxLine } from "../../hw/pci/intx.js";
import { findCapability, findExtendedCapability } from "../../hw/pci/capabilities.js";
import * as R from "../../uapi/pci-regs.js";
import { BarAccess } from "./bar-access.js";
import { VfioPciConfig } from "./config.js";
import { HostVectorPool } from "./host-vectors.js";
import { IoEventFds } from "./ioeventfd.js";
import { IRQ, VfioPciIrqs } from "./irqs.js";
import { type DeviceRegion, REGION, msixMappableCapability, regionOffset, splitOffset, typeCapability } from "./regions.js";
import { validateSetIrqs } from "./set-irqs.js";
import { VfToken, bindDriver, pfToken, unbindDriver, validateVfToken } from "./vf-token.js";
import { restoreState, saveState, type SavedState } from "./saved-state.js";

/** VFIO_DEVICE_GET_PCI_HOT_RESET_INFO and VFIO_DEVICE_PCI_HOT_RESET (VFIO_BASE + 12 / + 13 on a device fd) */
export const VFIO_DEVICE_GET_PCI_HOT_RESET_INFO = IO(VFIO.VFIO_TYPE, VFIO.VFIO_BASE + 12);
export const VFIO_DEVICE_PCI_HOT_RESET = IO(VFIO.VFIO_TYPE, VFIO.VFIO_BASE + 13);
/** VFIO_DEVICE_IOEVENTFD (VFIO_BASE + 16) */
export const VFIO_DEVICE_IOEVENTFD = IO(VFIO.VFIO_TYPE, VFIO.VFIO_BASE + 16);

/** the legacy VGA window the VGA region exposes, offsets = legacy addresses */
const VGA_REGION_SIZE = 0xc0000n;
const VGA_RANGES: readonly [number, number][] = [
  [0xa0000, 0xc0000],
  [0x3b0, 0x3bc],
  [0x3c0, 0x3e0],
];
const PCI_CLASS_DISPLAY_VGA = 0x0300;
const { READ, WRITE, MMAP: MMAP_FLAG, CAPS } = VFIO_REGION_INFO_FLAG.bits;

export interface VfioPciOptions {
  kernel: Kernel;
  /** the function to drive; it must be attached to a bus */
  fn: PciFunction;
  /** the function's interrupt sources, as its device model created them */
  msix?: MsixController | null;
  msi?: MsiController | null;
  intx?: IntxLine | null;
  /** host interrupt vectors (default: a private pool of 224) */
  vectors?: HostVectorPool;
  /** MSI-X vectors may be added after enabling (newer kernels): GET_IRQ_INFO drops NORESIZE for MSI-X */
  dynamicMsix?: boolean;
  /** name in sysfs (default "vfio-pci"); the VF token rules compare PF and VF driver names */
  driverName?: string;
  /** variant migration and DMA logging operations */
  migration?: MigrationOps;
  logging?: LoggingOps;
  /** config region size to present (default: 256 or 4096, as the function has) */
  configSize?: number;
  /** legacy VGA decoding behind the VGA region (VGA-class functions); absent: cycles nobody claims */
  vga?: MmioHandler;
}

export class VfioPciDriver implements VfioDriver {
  readonly driverName: string;
  readonly migration: MigrationOps | undefined;
  readonly logging: LoggingOps | undefined;
  readonly pinnedPageDirtyScope = false;
  readonly fn: PciFunction;
  /** present when the function is an SR-IOV PF */
  readonly vfToken: VfToken | null;
  protected readonly kernel: Kernel;
  protected readonly irqs: VfioPciIrqs;
  protected readonly bars: BarAccess;
  protected readonly ioeventfds: IoEventFds;
  private readonly msix: MsixController | null;
  private readonly regions: DeviceRegion[] = [];
  private readonly configSizeOverride: number | undefined;
  private readonly vgaHandler: MmioHandler | null;
  private config: VfioPciConfig | null = null;
  private resetWorks = false;
  private openState: SavedState | null = null;

  constructor(opts: VfioPciOptions) {
    const fn = opts.fn;
    if (!fn.attached) throw new Error(`${fn.name} must be attached to a bus before a driver binds to it`);
    this.fn = fn;
    this.kernel = opts.kernel;
    this.driverName = opts.driverName ?? "vfio-pci";
    this.migration = opts.migration;
    this.logging = opts.logging;
    this.configSizeOverride = opts.configSize;
    this.vgaHandler = opts.vga ?? null;
    this.msix = opts.msix ?? null;
    const msi = opts.msi ?? null;
    if (findCapability(fn.config, R.PCI_CAP_ID_MSIX) !== undefined && !this.msix) throw new Error(`${fn.name} has an MSI-X capability: pass its MsixController`);
    if (findCapability(fn.config, R.PCI_CAP_ID_MSI) !== undefined && !msi) throw new Error(`${fn.name} has an MSI capability: pass its MsiController`);

    const sriov = findExtendedCapability(fn.config, R.PCI_EXT_CAP_ID_SRIOV);
    if (sriov !== undefined && fn.configRead(sriov + R.PCI_SRIOV_CTRL, 2) & R.PCI_SRIOV_CTRL_VFE) {
      // its VFs may already be in use elsewhere
      throw new Errno("EBUSY", `${fn.name} is a PF with VFs enabled: vfio-pci refuses to bind`, "bind");
    }
    this.vfToken = sriov !== undefined ? new VfToken(0x5f70_0000 + fn.routingId) : null;

    const pool = opts.vectors ?? new HostVectorPool();
    this.irqs = new VfioPciIrqs(this.kernel, { fn, msix: this.msix, msi, intx: opts.intx ?? null }, pool, {
      dynamicMsix: opts.dynamicMsix ?? false,
      withMemory: (f) => this.withMemoryEnabled(f),
    });
    this.bars = new BarAccess({
      kernel: this.kernel,
      fn,
      memoryEnabled: () => this.memoryEnabled(),
      msixTable: () => this.msixTable(),
    });
    this.ioeventfds = new IoEventFds(this.kernel, this.bars, () => this.msixTable());
    bindDriver(fn, this);
  }

  get requesterId(): number {
    return this.fn.routingId;
  }

  /** The active interrupt type: "intx", "msi", "msix" or "none" (lab observation). */
  get interruptType(): "intx" | "msi" | "msix" | "none" {
    const t = this.irqs.activeType;
    return t === IRQ.INTX ? "intx" : t === IRQ.MSI ? "msi" : t === IRQ.MSIX ? "msix" : "none";
  }

  /** Host vectors the device holds (lab observation). */
  get hostVectors(): number[] {
    return this.irqs.hostVectors;
  }

  /** Unbind from the function (driver removal). */
  unbind(): void {
    unbindDriver(this.fn, this);
  }

  // ---- hooks for variants ----

  /** Add a device-specific region; returns its index (9, 10, ...). Call before the device is opened. */
  protected addRegion(region: DeviceRegion): number {
    if (region.flags & MMAP_FLAG && !region.mmap) throw new Error("a region flagged MMAP needs an mmap()");
    this.regions.push(region);
    return REGION.NUM + this.regions.length - 1;
  }

  /** Device capabilities for GET_INFO's chain (vfio-pci itself has none on x86). */
  protected deviceCapabilities(): Capability[] {
    return [];
  }

  /** Size of the config region. */
  protected configRegionSize(): number {
    return this.configSizeOverride ?? this.fn.config.size;
  }

  /** Whether the function has a reset vfio-pci can use: FLR, or a D3hot->D0 transition that resets. */
  protected canReset(): boolean {
    if (this.fn.flrCapable) return true;
    const pm = this.fn.pmCap;
    return pm !== undefined && (this.fn.configRead(pm + R.PCI_PM_CTRL, 2) & R.PCI_PM_CTRL_NO_SOFT_RESET) === 0;
  }

  /**
   * Reset the function as pci_try_reset_function() does: save the config
   * state, reset, restore it, and reprogram the interrupts from the kernel's
   * own records. Interrupt setup survives; device-internal state does not.
   */
  protected resetFunction(): void {
    const state = saveState(this.fn);
    this.fn.reset();
    restoreState(this.fn, state);
    this.irqs.reprogram();
  }

  // ---- open / close ----

  /** First open of the device fd (vfio_pci_core_enable). */
  open(): void {
    const fn = this.fn;
    this.setCommand((c) => c & ~R.PCI_COMMAND_MASTER);
    // pci_enable_device: decode the kinds of BARs the host assigned
    let decode = 0;
    for (const i of fn.barIndices()) {
      if (this.bars.hostAddress(i) === 0n) continue;
      decode |= fn.bar(i)!.kind === "io" ? R.PCI_COMMAND_IO : R.PCI_COMMAND_MEMORY;
    }
    this.setCommand((c) => c | decode);
    this.resetWorks = this.canReset();
    if (this.resetWorks) this.resetFunction();
    this.openState = saveState(fn);
    // INTx masking is done with the real INTx Disable bit, so start with it clear
    this.setCommand((c) => c & ~R.PCI_COMMAND_INTX_DISABLE);
    this.config = new VfioPciConfig(fn, this.configRegionSize(), {
      msiActive: () => this.irqs.msiActive,
      msiQmax: () => this.irqs.msiQmax,
      intxDisableWritten: (d) => this.irqs.intxDisableWritten(d),
      functionReset: () => this.resetFunction(),
    });
    this.irqs.attach();
    const pf = pfToken(fn, this.driverName);
    if (pf) pf.users++;
  }

  /** Last close (vfio_pci_core_disable): quiet the function and put its open-time state back. */
  close(): void {
    const pf = pfToken(this.fn, this.driverName);
    if (pf) pf.users--;
    this.setCommand((c) => c & ~R.PCI_COMMAND_MASTER);
    this.irqs.release();
    this.ioeventfds.clear();
    this.fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_INTX_DISABLE);
    if (this.resetWorks) this.fn.reset();
    if (this.openState) restoreState(this.fn, this.openState);
    this.openState = null;
    this.config = null;
  }

  private setCommand(change: (c: number) => number): void {
    const cmd = this.fn.configRead(R.PCI_COMMAND, 2);
    const next = change(cmd) & 0xffff;
    if (next !== cmd) this.fn.configWrite(R.PCI_COMMAND, 2, next);
  }

  private requireOpen(syscall: string): VfioPciConfig {
    if (!this.config) throw new Errno("ENODEV", `${this.fn.name} is not open`, syscall);
    return this.config;
  }

  /** vfio-pci's memory check: Memory Space Enable as the user set it (VFs: always), and not in D3hot. */
  protected memoryEnabled(): boolean {
    const pm = this.fn.pmCap;
    if (pm !== undefined && (this.fn.configRead(pm + R.PCI_PM_CTRL, 2) & R.PCI_PM_CTRL_STATE_MASK) === 3) return false;
    if (this.fn.vf) return true;
    const cmd = this.config ? this.config.virtualCommand() : this.fn.configRead(R.PCI_COMMAND, 2);
    return (cmd & R.PCI_COMMAND_MEMORY) !== 0;
  }

  private withMemoryEnabled<T>(f: () => T): T {
    const cmd = this.fn.configRead(R.PCI_COMMAND, 2);
    const off = !this.fn.vf && (cmd & R.PCI_COMMAND_MEMORY) === 0;
    if (off) this.fn.configWrite(R.PCI_COMMAND, 2, cmd | R.PCI_COMMAND_MEMORY);
    try {
      return f();
    } finally {
      if (off) this.fn.configWrite(R.PCI_COMMAND, 2, cmd);
    }
  }

  private msixTable(): { bar: number; start: number; end: number } | null {
    const m = this.msix;
    if (!m) return null;
    const entries = (this.fn.configRead(m.capOffset + R.PCI_MSIX_FLAGS, 2) & R.PCI_MSIX_FLAGS_QSIZE) + 1;
    return { bar: m.tableBar, start: m.tableOffset, end: m.tableOffset + R.PCI_MSIX_ENTRY_SIZE * entries };
  }

  private get hasVga(): boolean {
    return this.fn.configRead(R.PCI_CLASS_DEVICE, 2) === PCI_CLASS_DISPLAY_VGA;
  }

  private get numRegions(): number {
    return REGION.NUM + this.regions.length;
  }

  // ---- ioctls ----

  ioctl(request: number, arg: IoctlArg): number {
    switch (request) {
      case IOCTL.VFIO_DEVICE_GET_INFO:
        return this.getInfo(arg);
      case IOCTL.VFIO_DEVICE_GET_REGION_INFO:
        return this.getRegionInfo(arg);
      case IOCTL.VFIO_DEVICE_GET_IRQ_INFO:
        return this.getIrqInfo(arg);
      case IOCTL.VFIO_DEVICE_SET_IRQS:
        return this.setIrqs(arg);
      case IOCTL.VFIO_DEVICE_RESET:
        if (!this.resetWorks) throw new Errno("EINVAL", `${this.fn.name} has no usable reset (no FLR, no PM reset)`, "VFIO_DEVICE_RESET");
        this.resetFunction();
        return 0;
      case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
      case VFIO_DEVICE_PCI_HOT_RESET:
        return this.hotReset(request, arg);
      case VFIO_DEVICE_IOEVENTFD:
        return this.ioeventfds.ioctl(argBytes(this.kernel.user, arg, 28, "VFIO_DEVICE_IOEVENTFD"));
    }
    throw new Errno("ENOTTY", `ioctl 0x${request.toString(16)} is not a vfio-pci device ioctl`, "ioctl");
  }

  private getInfo(arg: IoctlArg): number {
    const syscall = "VFIO_DEVICE_GET_INFO";
    const minsz = vfio_device_info.minsz;
    const bytes = argBytes(this.kernel.user, arg, minsz, syscall);
    const argsz = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
    if (argsz < minsz) throw new Errno("EINVAL", `argsz ${argsz} is below ${minsz}`, syscall);
    // cap_offset exists for callers that know it (argsz >= 20)
    const outsz = argsz >= 20 ? 20 : minsz;
    if (bytes.byteLength < outsz) throw new Errno("EFAULT", `argsz ${argsz} promises ${outsz} writable bytes; the buffer has ${bytes.byteLength}`, syscall);
    let flags = VFIO_DEVICE_FLAGS.bits.PCI | (this.resetWorks ? VFIO_DEVICE_FLAGS.bits.RESET : 0);
    let outArgsz = argsz;
    let capOffset = 0;
    const caps = this.deviceCapabilities();
    if (caps.length) {
      flags |= VFIO_DEVICE_FLAGS.bits.CAPS;
      const chain = buildCapChain(vfio_device_info.size, caps);
      if (argsz < chain.totalSize) outArgsz = chain.totalSize;
      else {
        this.copyCaps(bytes, vfio_device_info.size, chain.bytes, syscall);
        capOffset = chain.firstOffset;
      }
    }
    const out = vfio_device_info.encode({ argsz: outArgsz, flags, num_regions: this.numRegions, num_irqs: VFIO_PCI_IRQ.VFIO_PCI_NUM_IRQS, cap_offset: capOffset });
    bytes.set(out.subarray(0, outsz));
    return 0;
  }

  private copyCaps(bytes: Uint8Array, at: number, caps: Uint8Array, syscall: string): void {
    if (bytes.byteLength < at + caps.byteLength) throw new Errno("EFAULT", `argsz promises ${at + caps.byteLength} bytes but the buffer has ${bytes.byteLength}`, syscall);
    bytes.set(caps, at);
  }

  private getRegionInfo(arg: IoctlArg): number {
    const syscall = "VFIO_DEVICE_GET_REGION_INFO";
    const minsz = vfio_region_info.minsz;
    const bytes = argBytes(this.kernel.user, arg, minsz, syscall);
    const req = vfio_region_info.decode(bytes);
    if (req.argsz < minsz) throw new Errno("EINVAL", `argsz ${req.argsz} is below ${minsz}`, syscall);
    const index = req.index;
    let size = 0n;
    let flags = 0;
    const caps: Capability[] = [];
    if (index === REGION.CONFIG) {
      size = BigInt(this.configRegionSize());
      flags = READ | WRITE;
    } else if (index >= REGION.BAR0 && index <= REGION.BAR5) {
      const def = this.fn.bar(index);
      size = def ? BigInt(def.size) : 0n;
      if (size) {
        flags = READ | WRITE;
        if (this.bars.mmapSupported(index)) {
          flags |= MMAP_FLAG;
          if (this.msix && this.msix.tableBar === index) caps.push(msixMappableCapability());
        }
      }
    } else if (index === REGION.ROM) {
      // the emulated functions have no expansion ROM: an empty region
    } else if (index === REGION.VGA) {
      if (!this.hasVga) throw new Errno("EINVAL", `${this.fn.name} is not a VGA device`, syscall);
      size = VGA_REGION_SIZE;
      flags = READ | WRITE;
    } else {
      const region = index < this.numRegions ? this.regions[index - REGION.NUM] : undefined;
      if (!region) throw new Errno("EINVAL", `region index ${index} is not below ${this.numRegions}`, syscall);
      size = region.size;
      flags = region.flags & (READ | WRITE | MMAP_FLAG);
      caps.push(typeCapability(region.type, region.subtype), ...(region.capabilities?.() ?? []));
    }
    let argsz = req.argsz;
    let capOffset = 0;
    if (caps.length) {
      flags |= CAPS;
      const chain = buildCapChain(vfio_region_info.size, caps);
      if (req.argsz < chain.totalSize) argsz = chain.totalSize;
      else {
        this.copyCaps(bytes, vfio_region_info.size, chain.bytes, syscall);
        capOffset = chain.firstOffset;
      }
    }
    bytes.set(vfio_region_info.encode({ argsz, flags, index, cap_offset: capOffset, size, offset: regionOffset(index) }).subarray(0, minsz));
    return 0;
  }

  private getIrqInfo(arg: IoctlArg): number {
    const syscall = "VFIO_DEVICE_GET_IRQ_INFO";
    const minsz = vfio_irq_info.minsz;
    const bytes = argBytes(this.kernel.user, arg, minsz, syscall);
    const req = vfio_irq_info.decode(bytes);
    if (req.argsz < minsz) throw new Errno("EINVAL", `argsz ${req.argsz} is below ${minsz}`, syscall);
    const { flags, count } = this.irqs.info(req.index);
    bytes.set(vfio_irq_info.encode({ argsz: req.argsz, flags, index: req.index, count }).subarray(0, minsz));
    return 0;
  }

  private setIrqs(arg: IoctlArg): number {
    const minsz = vfio_irq_set.minsz;
    const bytes = argBytes(this.kernel.user, arg, minsz, "VFIO_DEVICE_SET_IRQS");
    const hdr = vfio_irq_set.decode(bytes);
    const data = validateSetIrqs(hdr, this.irqs.count(hdr.index), VFIO_PCI_IRQ.VFIO_PCI_NUM_IRQS, bytes);
    return this.irqs.set(hdr.flags, hdr.index, hdr.start, hdr.count, data);
  }

  /** The emulated functions sit on a root bus with no slot: neither a slot nor a bus reset exists. */
  private hotReset(request: number, arg: IoctlArg): number {
    const info = request === VFIO_DEVICE_GET_PCI_HOT_RESET_INFO;
    const syscall = info ? "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO" : "VFIO_DEVICE_PCI_HOT_RESET";
    const bytes = argBytes(this.kernel.user, arg, 12, syscall);
    const view = new DataView(bytes.buffer, bytes.byteOffset, 12);
    const argsz = view.getUint32(0, true);
    const flags = view.getUint32(4, true);
    if (argsz < 12 || (!info && flags !== 0)) throw new Errno("EINVAL", `argsz ${argsz} below 12${info ? "" : " or flags not 0"}`, syscall);
    throw new Errno("ENODEV", `${this.fn.name} is on a root bus: no slot or secondary bus reset is possible`, syscall);
  }

  // ---- features ----

  /** Driver features: PCI_VF_TOKEN on a PF; anything else ENOTTY. */
  feature(index: number, flags: number, payload: Uint8Array, argsz: number): number {
    const syscall = "VFIO_DEVICE_FEATURE";
    const { GET, SET, PROBE } = VFIO_DEVICE_FEATURE_FLAG.bits;
    if (index !== VFIO_DEVICE_FEATURE.values.PCI_VF_TOKEN) throw new Errno("ENOTTY", `feature ${index} is not known to ${this.driverName}`, syscall);
    if (!this.vfToken) throw new Errno("ENOTTY", `${this.fn.name} is not an SR-IOV PF`, syscall);
    // reading it back could leak the previous user's token
    if (flags & GET) throw new Errno("EINVAL", "the VF token cannot be read", syscall);
    if (flags & PROBE) return 0;
    if (!(flags & SET)) throw new Errno("EINVAL", "PCI_VF_TOKEN needs SET", syscall);
    if (argsz - 8 < 16) throw new Errno("EINVAL", `PCI_VF_TOKEN needs a 16-byte UUID; argsz ${argsz} leaves ${argsz - 8}`, syscall);
    if (payload.byteLength < 16) throw new Errno("EFAULT", "the buffer ends before the 16-byte UUID", syscall);
    this.vfToken.set(payload);
    return 0;
  }

  matchToken(token: Uint8Array | null): void {
    validateVfToken(this.fn, this.vfToken, this.driverName, token);
  }

  // ---- region access ----

  pread(buf: Uint8Array, offset: bigint): number {
    return this.rw(buf, offset, false);
  }

  pwrite(buf: Uint8Array, offset: bigint): number {
    return this.rw(buf, offset, true);
  }

  private rw(buf: Uint8Array, offset: bigint, isWrite: boolean): number {
    const syscall = isWrite ? "pwrite" : "pread";
    if (buf.byteLength === 0) return 0;
    const { index, pos } = splitOffset(offset);
    if (index >= this.numRegions) throw new Errno("EINVAL", `offset 0x${offset.toString(16)} names region ${index}; there are ${this.numRegions}`, syscall);
    if (index === REGION.CONFIG) {
      const cfg = this.requireOpen(syscall);
      const at = pos > BigInt(cfg.size) ? cfg.size : Number(pos);
      return isWrite ? cfg.write(at, buf) : cfg.read(at, buf);
    }
    if (index === REGION.ROM) {
      if (isWrite) throw new Errno("EINVAL", "the ROM region is read-only", syscall);
      throw new Errno("EINVAL", `${this.fn.name} has no expansion ROM`, syscall);
    }
    if (index <= REGION.BAR5) return this.bars.rw(index, pos, buf, isWrite);
    if (index === REGION.VGA) return this.vgaRw(pos, buf, isWrite);
    const region = this.regions[index - REGION.NUM]!;
    return isWrite ? region.write(buf, pos) : region.read(buf, pos);
  }

  private vgaRw(pos: bigint, buf: Uint8Array, isWrite: boolean): number {
    const syscall = isWrite ? "pwrite" : "pread";
    if (!this.hasVga) throw new Errno("EINVAL", `${this.fn.name} is not a VGA device`, syscall);
    const at = pos >= VGA_REGION_SIZE ? -1 : Number(pos);
    const range = VGA_RANGES.find(([s, e]) => at >= s && at < e);
    if (!range) throw new Errno("EINVAL", `0x${pos.toString(16)} is not a legacy VGA address`, syscall);
    const count = Math.min(buf.byteLength, range[1] - at);
    for (let i = 0; i < count; i++) {
      const h = this.vgaHandler;
      if (isWrite) h?.write(at + i, 1, buf[i]!);
      else buf[i] = h ? h.read(at + i, 1) & 0xff : 0xff;
    }
    return count;
  }

  mmap(length: number, prot: number, flags: number, offset: bigint): Mapping {
    const { index, pos } = splitOffset(offset);
    if (index >= this.numRegions) throw new Errno("EINVAL", `offset 0x${offset.toString(16)} names region ${index}; there are ${this.numRegions}`, "mmap");
    if (!(flags & MMAP.MAP_SHARED)) throw new Errno("EINVAL", "device regions need MAP_SHARED", "mmap");
    if (index >= REGION.NUM) {
      const region = this.regions[index - REGION.NUM]!;
      if (!(region.flags & MMAP_FLAG) || !region.mmap) throw new Errno("EINVAL", `region ${index} cannot be mmapped`, "mmap");
      return region.mmap(length, prot, pos);
    }
    if (index >= REGION.ROM) throw new Errno("EINVAL", `region ${index} cannot be mmapped`, "mmap");
    return this.bars.mmap(index, pos, length, prot);
  }

  // ---- lab hooks: host-side events a notebook may cause ----

  /** An AER error was detected on the function: signal the ERR eventfd. Returns whether one was installed. */
  reportError(): boolean {
    return this.irqs.reportError();
  }

  /** The host asks for the device back (driver unbind): signal the REQ eventfd. */
  requestRelease(): boolean {
    return this.irqs.requestRelease();
  }
}
