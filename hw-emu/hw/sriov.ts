/**
 * SR-IOV: the extended capability of a physical function (PF) and the
 * virtual functions (VFs) it brings to life.
 *
 * Software writes NumVFs, then sets VF Enable in SR-IOV Control: VF i
 * (0-based) appears at routing id PF + First VF Offset + i * VF Stride, with
 * the PF's vendor id, the VF Device ID, no INTx pin, and BARs carved from
 * the PF's VF BARs (VF i's BARn = VF BARn + i * per-VF size). VF memory
 * decoding follows the PF's VF Memory Space Enable bit. Clearing VF Enable
 * (or resetting the PF) removes the VFs.
 */
import { type BarSpec, barAddressMasks, barFlagBits, decodeProbedSize, validateBarSpec } from "./pci/bar.js";
import { checkRoutingId } from "./pci/address.js";
import type { PciFunction, VfBacking } from "./pci/function.js";
import { PciFunction as PciFunctionClass } from "./pci/function.js";
import type { ResourceAllocator } from "./pci/resources.js";
import {
  PCI_EXT_CAP_ID_SRIOV,
  PCI_EXT_CAP_SRIOV_SIZEOF,
  PCI_NUM_BARS,
  PCI_SRIOV_BAR,
  PCI_SRIOV_CAP,
  PCI_SRIOV_CTRL,
  PCI_SRIOV_CTRL_ARI,
  PCI_SRIOV_CTRL_MSE,
  PCI_SRIOV_CTRL_VFE,
  PCI_SRIOV_FUNC_LINK,
  PCI_SRIOV_INITIAL_VF,
  PCI_SRIOV_NUM_VF,
  PCI_SRIOV_STATUS,
  PCI_SRIOV_SUP_PGSIZE,
  PCI_SRIOV_SYS_PGSIZE,
  PCI_SRIOV_TOTAL_VF,
  PCI_SRIOV_VF_DID,
  PCI_SRIOV_VF_OFFSET,
  PCI_SRIOV_VF_STRIDE,
  PCI_SRIOV_VFM,
} from "../uapi/pci-regs.js";

/** What a VF factory gets to build the function (and device model) behind VF `index`. */
export interface VfContext {
  index: number;
  routingId: number;
  vendorId: number;
  deviceId: number;
  /** pass as `vf` in PciFunctionOptions */
  backing: VfBacking;
  /** the BARs the VF must define (same kind and size) */
  barSpecs: Partial<Record<number, BarSpec>>;
}

export interface SriovOptions {
  totalVfs: number;
  /** default: totalVfs */
  initialVfs?: number;
  firstVfOffset: number;
  vfStride: number;
  vfDeviceId: number;
  /** per-VF BAR layout */
  vfBars: Partial<Record<number, BarSpec>>;
  /** Supported Page Sizes bitmap (bit n = 4 KiB << n); default 4K|8K|64K|256K|1M|4M */
  supportedPageSizes?: number;
  /** Builds VF `ctx.index`; the returned function is attached to the PF's bus. */
  createVf: (ctx: VfContext) => PciFunction;
  /** Called after VF `index` was removed from the bus. */
  onVfRemoved?: (fn: PciFunction, index: number) => void;
}

export class SriovCapability {
  readonly offset: number;
  readonly totalVfs: number;
  readonly firstVfOffset: number;
  readonly vfStride: number;
  readonly vfDeviceId: number;
  private readonly vfBarSpecs: Partial<Record<number, BarSpec>>;
  private readonly live: PciFunction[] = [];

  constructor(
    readonly pf: PciFunction,
    private readonly opts: SriovOptions,
  ) {
    const { totalVfs, firstVfOffset, vfStride } = opts;
    if (!Number.isInteger(totalVfs) || totalVfs < 1 || totalVfs > 0xffff) throw new RangeError(`TotalVFs ${totalVfs} not in 1..65535`);
    if (!Number.isInteger(firstVfOffset) || firstVfOffset < 1 || firstVfOffset > 0xffff) throw new RangeError("First VF Offset must be 1..65535");
    if (!Number.isInteger(vfStride) || vfStride < 0 || vfStride > 0xffff || (totalVfs > 1 && vfStride === 0)) {
      throw new RangeError("VF Stride must be 1..65535 when there is more than one VF");
    }
    this.totalVfs = totalVfs;
    this.firstVfOffset = firstVfOffset;
    this.vfStride = vfStride;
    this.vfDeviceId = opts.vfDeviceId & 0xffff;
    this.vfBarSpecs = opts.vfBars;
    for (const [k, spec] of Object.entries(opts.vfBars)) if (spec) validateBarSpec(Number(k), spec);

    const cfg = pf.config;
    const off = pf.caps.addExtended(PCI_EXT_CAP_ID_SRIOV, 1, PCI_EXT_CAP_SRIOV_SIZEOF);
    this.offset = off;
    cfg.define(off + PCI_SRIOV_CAP, 4, 0);
    cfg.define(off + PCI_SRIOV_CTRL, 2, 0, { rw: PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE | PCI_SRIOV_CTRL_ARI });
    cfg.define(off + PCI_SRIOV_STATUS, 2, 0);
    cfg.define(off + PCI_SRIOV_INITIAL_VF, 2, opts.initialVfs ?? totalVfs);
    cfg.define(off + PCI_SRIOV_TOTAL_VF, 2, totalVfs);
    cfg.define(off + PCI_SRIOV_NUM_VF, 2, 0, { rw: 0xffff });
    cfg.define(off + PCI_SRIOV_FUNC_LINK, 1, 0);
    cfg.define(off + PCI_SRIOV_VF_OFFSET, 2, firstVfOffset);
    cfg.define(off + PCI_SRIOV_VF_STRIDE, 2, vfStride);
    cfg.define(off + PCI_SRIOV_VF_DID, 2, this.vfDeviceId);
    const supported = opts.supportedPageSizes ?? 0x553;
    cfg.define(off + PCI_SRIOV_SUP_PGSIZE, 4, supported);
    cfg.define(off + PCI_SRIOV_SYS_PGSIZE, 4, 1, { rw: supported });
    // VF BAR registers size like ordinary BARs, but for one VF's share.
    for (let i = 0; i < PCI_NUM_BARS; i++) {
      const spec = this.vfBarSpecs[i];
      if (!spec) continue;
      if (spec.kind === "io") throw new RangeError("VF BARs must be memory BARs");
      const reg = off + PCI_SRIOV_BAR + 4 * i;
      const [low, high] = barAddressMasks(spec);
      cfg.define(reg, 4, barFlagBits(spec), { rw: low });
      if (spec.kind === "mem64") {
        if (this.vfBarSpecs[i + 1]) throw new Error(`VF BAR${i + 1} is the upper half of 64-bit VF BAR${i}`);
        cfg.define(reg + 4, 4, 0, { rw: high });
      }
    }
    cfg.define(off + PCI_SRIOV_VFM, 4, 0);

    // NumVFs is frozen while VF Enable is set.
    cfg.watch(off + PCI_SRIOV_NUM_VF, 2, (before, after) => {
      if (this.vfEnable && before !== after) cfg.poke(off + PCI_SRIOV_NUM_VF, 2, before);
    });
    cfg.watch(off + PCI_SRIOV_CTRL, 2, (before, after) => {
      if ((before ^ after) & PCI_SRIOV_CTRL_VFE) {
        if (after & PCI_SRIOV_CTRL_VFE) this.createVfs();
        else this.removeVfs();
      }
      if ((before ^ after) & PCI_SRIOV_CTRL_MSE) this.notifyVfs();
    });
    cfg.watchRange(off + PCI_SRIOV_BAR, 4 * PCI_NUM_BARS, () => this.notifyVfs());
    pf.onReset(() => this.removeVfs());
  }

  private ctrl(): number {
    return this.pf.config.peek(this.offset + PCI_SRIOV_CTRL, 2);
  }

  get vfEnable(): boolean {
    return (this.ctrl() & PCI_SRIOV_CTRL_VFE) !== 0;
  }

  get vfMemoryEnable(): boolean {
    return (this.ctrl() & PCI_SRIOV_CTRL_MSE) !== 0;
  }

  get numVfs(): number {
    return this.pf.config.peek(this.offset + PCI_SRIOV_NUM_VF, 2);
  }

  /** Live VFs, VF 0 first. */
  vfs(): readonly PciFunction[] {
    return this.live;
  }

  vfRoutingId(index: number): number {
    return checkRoutingId(this.pf.routingId + this.firstVfOffset + index * this.vfStride);
  }

  vfBarSpec(bar: number): BarSpec | undefined {
    return this.vfBarSpecs[bar];
  }

  /** Address of VF `index`'s BAR, or null if the VF BAR is absent. */
  vfBarAddress(bar: number, index: number): bigint | null {
    const spec = this.vfBarSpecs[bar];
    if (!spec) return null;
    return this.readVfBarBase(bar, spec) + BigInt(index) * BigInt(spec.size);
  }

  private readVfBarBase(bar: number, spec: BarSpec): bigint {
    const reg = this.offset + PCI_SRIOV_BAR + 4 * bar;
    const low = BigInt(this.pf.config.peek(reg, 4)) & ~0xfn;
    if (spec.kind !== "mem64") return low;
    return low | (BigInt(this.pf.config.peek(reg + 4, 4)) << 32n);
  }

  private createVfs(): void {
    const n = Math.min(this.numVfs, this.totalVfs);
    const bus = this.pf.bus;
    for (let i = 0; i < n; i++) {
      const rid = this.vfRoutingId(i);
      const backing: VfBacking = {
        pf: this.pf,
        index: i,
        barSpec: (bar) => this.vfBarSpec(bar),
        barAddress: (bar) => this.vfBarAddress(bar, i),
        memoryEnabled: () => this.vfEnable && this.vfMemoryEnable,
      };
      const fn = this.opts.createVf({
        index: i,
        routingId: rid,
        vendorId: this.pf.vendorId,
        deviceId: this.vfDeviceId,
        backing,
        barSpecs: { ...this.vfBarSpecs },
      });
      if (fn.vf !== backing) throw new Error("createVf must build the VF function with the given backing");
      for (const [k, spec] of Object.entries(this.vfBarSpecs)) {
        if (spec && !fn.bar(Number(k))) throw new Error(`VF ${i} does not implement VF BAR${k}`);
      }
      bus.attach(fn, rid);
      this.live.push(fn);
    }
  }

  private removeVfs(): void {
    while (this.live.length > 0) {
      const index = this.live.length - 1;
      const fn = this.live.pop()!;
      if (fn.attached) fn.bus.detach(fn.routingId);
      this.opts.onVfRemoved?.(fn, index);
    }
  }

  private notifyVfs(): void {
    for (const vf of this.live) vf.notifyDecodeChange();
  }

  /**
   * What the host PCI core does for `echo n > sriov_numvfs`: program NumVFs,
   * then set VF Enable and VF Memory Space Enable.
   */
  enableVfs(n: number): readonly PciFunction[] {
    if (!Number.isInteger(n) || n < 1 || n > this.totalVfs) throw new RangeError(`cannot enable ${n} VFs (TotalVFs ${this.totalVfs})`);
    const cfg = this.pf.config;
    if (this.vfEnable) throw new Error("VFs are already enabled; disable them first");
    cfg.write(this.offset + PCI_SRIOV_NUM_VF, 2, n);
    cfg.write(this.offset + PCI_SRIOV_CTRL, 2, this.ctrl() | PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    return this.live;
  }

  disableVfs(): void {
    this.pf.config.write(this.offset + PCI_SRIOV_CTRL, 2, this.ctrl() & ~(PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE));
  }

  /**
   * Sizes each VF BAR (all-ones probe of the SR-IOV VF BAR registers) and
   * gives it an aperture of per-VF size * TotalVFs.
   */
  assignVfBars(alloc: ResourceAllocator): Map<number, bigint> {
    const cfg = this.pf.config;
    const out = new Map<number, bigint>();
    for (let i = 0; i < PCI_NUM_BARS; i++) {
      const reg = this.offset + PCI_SRIOV_BAR + 4 * i;
      const orig = cfg.read(reg, 4);
      cfg.write(reg, 4, 0xffffffff);
      const low = cfg.read(reg, 4);
      cfg.write(reg, 4, orig);
      const is64 = (low & 0x7) === 0x4;
      let high: number | null = null;
      if (is64) {
        const origHigh = cfg.read(reg + 4, 4);
        cfg.write(reg + 4, 4, 0xffffffff);
        high = cfg.read(reg + 4, 4);
        cfg.write(reg + 4, 4, origHigh);
      }
      const probed = decodeProbedSize(low, high);
      if (probed) {
        const total = probed.size * BigInt(this.totalVfs);
        let aperture = probed.size;
        while (aperture < total) aperture <<= 1n;
        const base = alloc.allocate(probed.kind, aperture);
        cfg.write(reg, 4, Number(base & 0xffff_ffffn) | (low & 0xf));
        if (is64) cfg.write(reg + 4, 4, Number(base >> 32n));
        out.set(i, base);
      }
      if (is64) i++;
    }
    return out;
  }
}

export interface SriovPfOptions {
  name?: string;
  vendorId: number;
  deviceId: number;
  classCode: number;
  sriov: SriovOptions;
}

/**
 * A minimal physical function: a PCI Express endpoint with one 4 KiB BAR of
 * identification registers and the SR-IOV capability. The interesting
 * behaviour lives in its VFs.
 */
export class SriovPf {
  readonly fn: PciFunction;
  readonly sriov: SriovCapability;

  constructor(opts: SriovPfOptions) {
    const regs = new Uint32Array(1024);
    regs[0] = ((opts.deviceId << 16) | opts.vendorId) >>> 0;
    regs[1] = opts.sriov.totalVfs;
    this.fn = new PciFunctionClass({
      name: opts.name ?? "sriov-pf",
      vendorId: opts.vendorId,
      deviceId: opts.deviceId,
      classCode: opts.classCode,
      bars: {
        0: {
          kind: "mem64",
          size: 4096,
          handler: {
            read: (offset, size) => (regs[offset >> 2]! >>> ((offset & 3) * 8)) & (size === 4 ? 0xffffffff : (1 << (size * 8)) - 1),
            // identification registers are read-only
            write: () => undefined,
          },
        },
      },
    });
    this.sriov = new SriovCapability(this.fn, opts.sriov);
  }
}
