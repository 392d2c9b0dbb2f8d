/**
 * Capability lists in configuration space: the standard list (byte-sized
 * next pointers starting at the Capabilities Pointer, 0x34) and the extended
 * list (dword headers starting at 0x100). Also the builders for the two
 * capabilities every function model shares: power management and PCI Express.
 */
import type { ConfigSpace } from "./config-space.js";
import {
  PCI_CAPABILITY_LIST,
  PCI_CAP_EXP_SIZEOF_V2,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_PM,
  PCI_CFG_EXT_CAP_START,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP2,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL2,
  PCI_EXP_DEVCTL_NOSNOOP_EN,
  PCI_EXP_DEVCTL_RELAX_EN,
  PCI_EXP_DEVSTA,
  PCI_EXP_DEVSTA_CED,
  PCI_EXP_DEVSTA_FED,
  PCI_EXP_DEVSTA_NFED,
  PCI_EXP_DEVSTA_URD,
  PCI_EXP_FLAGS,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCAP2,
  PCI_EXP_LNKCTL,
  PCI_EXP_LNKCTL2,
  PCI_EXP_LNKSTA,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXP_TYPE_RC_END,
  PCI_PM_CTRL,
  PCI_PM_CTRL_NO_SOFT_RESET,
  PCI_PM_CTRL_PME_ENABLE,
  PCI_PM_CTRL_PME_STATUS,
  PCI_PM_CTRL_STATE_MASK,
  PCI_PM_PMC,
  PCI_PM_SIZEOF,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STD_HEADER_SIZEOF,
} from "../../uapi/pci-regs.js";

export interface CapabilityLocation {
  id: number;
  offset: number;
  /** extended capabilities only */
  version?: number;
}

/** Builds both capability lists of one function, keeping every next pointer right. */
export class CapabilityChain {
  private nextStd = PCI_STD_HEADER_SIZEOF;
  private lastStd = -1;
  private nextExt = PCI_CFG_EXT_CAP_START;
  private lastExt = -1;

  constructor(private readonly cfg: ConfigSpace) {}

  /** Appends a standard capability of `length` bytes and returns its offset (dword aligned). */
  add(id: number, length: number): number {
    const offset = this.nextStd;
    if (offset + length > PCI_CFG_SPACE_SIZE) {
      throw new Error(`no room for capability 0x${id.toString(16)} (${length} bytes) below 0x100`);
    }
    this.cfg.define(offset, 1, id);
    this.cfg.define(offset + 1, 1, 0);
    if (this.lastStd < 0) {
      this.cfg.define(PCI_CAPABILITY_LIST, 1, offset);
      this.cfg.poke(PCI_STATUS, 2, this.cfg.peek(PCI_STATUS, 2) | PCI_STATUS_CAP_LIST);
    } else {
      this.cfg.poke(this.lastStd + 1, 1, offset);
    }
    this.lastStd = offset;
    this.nextStd = (offset + length + 3) & ~3;
    return offset;
  }

  /** Appends an extended capability of `length` bytes (PCI Express functions only). */
  addExtended(id: number, version: number, length: number): number {
    if (this.cfg.size < PCI_CFG_SPACE_EXP_SIZE) throw new Error("extended capabilities need PCI Express config space");
    const offset = this.nextExt;
    if (offset + length > PCI_CFG_SPACE_EXP_SIZE) {
      throw new Error(`no room for extended capability 0x${id.toString(16)} (${length} bytes)`);
    }
    this.cfg.define(offset, 4, (id & 0xffff) | ((version & 0xf) << 16));
    if (this.lastExt >= 0) {
      const header = this.cfg.peek(this.lastExt, 4);
      this.cfg.poke(this.lastExt, 4, ((header & 0x000fffff) | (offset << 20)) >>> 0);
    }
    this.lastExt = offset;
    this.nextExt = (offset + length + 3) & ~3;
    return offset;
  }
}

/** Walks the standard list the way a driver does, stopping at loops or bad pointers. */
export function listCapabilities(cfg: ConfigSpace): CapabilityLocation[] {
  const out: CapabilityLocation[] = [];
  if ((cfg.peek(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) === 0) return out;
  const seen = new Set<number>();
  let ptr = cfg.peek(PCI_CAPABILITY_LIST, 1) & 0xfc;
  while (ptr >= PCI_STD_HEADER_SIZEOF && !seen.has(ptr)) {
    seen.add(ptr);
    out.push({ id: cfg.peek(ptr, 1), offset: ptr });
    ptr = cfg.peek(ptr + 1, 1) & 0xfc;
  }
  return out;
}

/** Walks the extended list from 0x100. */
export function listExtendedCapabilities(cfg: ConfigSpace): CapabilityLocation[] {
  const out: CapabilityLocation[] = [];
  if (cfg.size < PCI_CFG_SPACE_EXP_SIZE) return out;
  const seen = new Set<number>();
  let ptr = PCI_CFG_EXT_CAP_START;
  while (ptr >= PCI_CFG_EXT_CAP_START && !seen.has(ptr)) {
    seen.add(ptr);
    const header = cfg.peek(ptr, 4);
    if (header === 0) break;
    out.push({ id: header & 0xffff, version: (header >>> 16) & 0xf, offset: ptr });
    ptr = (header >>> 20) & 0xffc;
  }
  return out;
}

export function findCapability(cfg: ConfigSpace, id: number): number | undefined {
  return listCapabilities(cfg).find((c) => c.id === id)?.offset;
}

export function findExtendedCapability(cfg: ConfigSpace, id: number): number | undefined {
  return listExtendedCapabilities(cfg).find((c) => c.id === id)?.offset;
}

/** Power management capability: D0..D3hot state field, PME enable, PME status (write-1-to-clear). */
export function addPowerManagement(cfg: ConfigSpace, chain: CapabilityChain): number {
  const off = chain.add(PCI_CAP_ID_PM, PCI_PM_SIZEOF);
  cfg.define(off + PCI_PM_PMC, 2, 0x0003); // version 3, no D1/D2, no PME from any state
  cfg.define(off + PCI_PM_CTRL, 2, PCI_PM_CTRL_NO_SOFT_RESET, {
    rw: PCI_PM_CTRL_STATE_MASK | PCI_PM_CTRL_PME_ENABLE,
    w1c: PCI_PM_CTRL_PME_STATUS,
  });
  cfg.define(off + 6, 2, 0);
  return off;
}

export interface PciExpressOptions {
  /** "endpoint" has a link; "rc-endpoint" is integrated in the root complex (no link). */
  portType?: "endpoint" | "rc-endpoint";
  /** advertise Function Level Reset in Device Capabilities */
  flr?: boolean;
}

/** PCI Express capability, version 2 layout (60 bytes). */
export function addPciExpress(cfg: ConfigSpace, chain: CapabilityChain, opts: PciExpressOptions = {}): number {
  const off = chain.add(PCI_CAP_ID_EXP, PCI_CAP_EXP_SIZEOF_V2);
  const integrated = opts.portType === "rc-endpoint";
  const type = integrated ? PCI_EXP_TYPE_RC_END : PCI_EXP_TYPE_ENDPOINT;
  cfg.define(off + PCI_EXP_FLAGS, 2, 0x0002 | (type << 4));
  // Max payload 256 bytes, role-based error reporting, optional FLR.
  cfg.define(off + PCI_EXP_DEVCAP, 4, (0x1 | 0x8000 | (opts.flr === false ? 0 : PCI_EXP_DEVCAP_FLR)) >>> 0);
  // Reset value as commonly seen: relaxed ordering, no-snoop, 512-byte read requests.
  // Initiate-FLR is only writable when FLR is advertised; the function model acts on it.
  cfg.define(off + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN | 0x2000, {
    rw: opts.flr === false ? 0x7fff : 0xffff,
  });
  cfg.define(off + PCI_EXP_DEVSTA, 2, 0, {
    w1c: PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_NFED | PCI_EXP_DEVSTA_FED | PCI_EXP_DEVSTA_URD,
  });
  cfg.define(off + PCI_EXP_LNKCAP, 4, integrated ? 0 : 0x11); // 2.5 GT/s, x1
  cfg.define(off + PCI_EXP_LNKCTL, 2, 0, { rw: integrated ? 0 : 0x0ffb });
  cfg.define(off + PCI_EXP_LNKSTA, 2, integrated ? 0 : 0x1011);
  cfg.define(off + PCI_EXP_DEVCAP2, 4, 0);
  cfg.define(off + PCI_EXP_DEVCTL2, 2, 0, { rw: 0x0fff });
  cfg.define(off + PCI_EXP_LNKCAP2, 4, integrated ? 0 : 0x2);
  cfg.define(off + PCI_EXP_LNKCTL2, 2, integrated ? 0 : 0x1, { rw: integrated ? 0 : 0x000f });
  return off;
}
