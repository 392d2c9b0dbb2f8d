/**
 * The config region: PCI configuration space as vfio-pci presents it.
 *
 * Every byte belongs to an area: the type 0 header, one capability, or a gap
 * between capabilities. An area says, bit by bit, which bits are virtual
 * (kept in a shadow copy the user sees) and which are writable; reads merge
 * shadow and hardware, writes go to the shadow or through to the function.
 * Notable results:
 * - BARs are virtual: sizing with all ones reads back the size mask, and the
 *   hardware BARs keep the host's addresses;
 * - INTx Disable is virtual (the host masks INTx with the real bit), as are the
 *   Interrupt Line and Pin;
 * - Memory/I/O Space and Bus Master reach the hardware;
 * - MSI address and data are virtual, MSI Enable reaches the hardware only
 *   while MSI is the active SET_IRQS type, and Multiple Message Capable reads
 *   back what the last enable granted; the MSI-X capability is read from the
 *   hardware and never written (vectors are programmed only through SET_IRQS);
 * - Initiate FLR is virtual and turns into a function reset;
 * - capabilities the table below does not know are unlinked from the chain.
 * Accesses are cut into naturally aligned pieces of 1, 2 or 4 bytes that stay
 * inside one area; any access reaching past the region fails EFAULT.
 */
import { Errno } from "../../uapi/index.js";
import type { PciFunction } from "../../hw/pci/function.js";
import type { AccessSize } from "../../hw/pci/config-space.js";
import * as R from "../../uapi/pci-regs.js";

export interface ConfigHooks {
  /** MSI is the active interrupt type, so its Enable bit may reach the hardware */
  msiActive(): boolean;
  /** log2 of the vectors the last MSI enable granted (0 before any) */
  msiQmax(): number;
  /** the user's INTx Disable bit was written (called on every write of the command register) */
  intxDisableWritten(disabled: boolean): void;
  /** Initiate FLR was written on a function whose Device Capabilities advertise FLR */
  functionReset(): void;
}

const ALL = 0xffff_ffff;

/** Which bits of an area are virtual and which the user may write. */
class Perms {
  readonly virt: Uint8Array;
  readonly write: Uint8Array;

  constructor(length: number) {
    // rounded to whole dwords, so a dword access at the end of a short capability stays defined
    const n = (length + 3) & ~3;
    this.virt = new Uint8Array(n);
    this.write = new Uint8Array(n);
  }

  set(offset: number, width: number, virt: number, write: number): this {
    for (let i = 0; i < width; i++) {
      if (offset + i >= this.virt.length) break;
      this.virt[offset + i] = (virt >>> (8 * i)) & 0xff;
      this.write[offset + i] = (write >>> (8 * i)) & 0xff;
    }
    return this;
  }

  bits(which: "virt" | "write", offset: number, count: number): number {
    const a = this[which];
    let v = 0;
    for (let i = count - 1; i >= 0; i--) v = v * 256 + (a[offset + i] ?? 0);
    return v >>> 0;
  }
}

type ReadFn = (area: Area, pos: number, count: number, offset: number) => number;
type WriteFn = (area: Area, pos: number, count: number, offset: number, value: number) => void;

interface Area {
  readonly start: number;
  readonly length: number;
  /** capability id (0 for the header); -1 for a gap */
  readonly id: number;
  readonly extended: boolean;
  readonly perms: Perms | null;
  readonly read: ReadFn;
  /** null: writes are accepted and dropped */
  readonly write: WriteFn | null;
}

function mask(count: number): number {
  return count === 4 ? ALL : (1 << (8 * count)) - 1;
}

function isBarOffset(offset: number): boolean {
  return (offset >= R.PCI_BASE_ADDRESS_0 && offset < R.PCI_BASE_ADDRESS_0 + 24) || (offset >= R.PCI_ROM_ADDRESS && offset < R.PCI_ROM_ADDRESS + 4);
}

// AER register offsets and the error bits a user may write (as vfio-pci allows)
const ERR_UNCOR_STATUS = 0x04;
const ERR_UNCOR_MASK = 0x08;
const ERR_UNCOR_SEVER = 0x0c;
const ERR_COR_STATUS = 0x10;
const ERR_COR_MASK = 0x14;
const ERR_CAP = 0x18;
const ERR_UNCOR_BITS = 0x03ff_f031;
const ERR_COR_BITS = 0xf1c1;
const ERR_CAP_ECRC_BITS = 0x140;
const ERR_LENGTH = 0x2c;
const EXT_CAP_ID_DSN = 0x03;
const EXT_CAP_ID_VNDR = 0x0b;
const CAP_ID_AF = 0x13;
const PCI_EXP_DEVCTL_PHANTOM = 0x0200;
const PCI_EXP_DEVCTL2_ARI = 0x0020;
/** PCI Express capability length for a version 1 / version 2 endpoint */
const EXP_ENDPOINT_V1 = 20;
const EXP_ENDPOINT_V2 = 44;

export class VfioPciConfig {
  /** the user-visible shadow copy */
  private readonly vconfig: Uint8Array;
  private readonly areas: (Area | null)[];
  /** hardware BAR and ROM registers as found at open, to repair them after an unnoticed reset */
  private readonly rbar: number[] = [];
  private extendedCaps = false;

  constructor(
    private readonly fn: PciFunction,
    /** region size: 256 or 4096 normally; a variant may present less */
    readonly size: number,
    private readonly hooks: ConfigHooks,
  ) {
    if (!Number.isInteger(size) || size < R.PCI_STD_HEADER_SIZEOF || size > fn.config.size) {
      throw new RangeError(`config region size ${size} must be in ${R.PCI_STD_HEADER_SIZEOF}..${fn.config.size}`);
    }
    this.vconfig = new Uint8Array(size);
    this.areas = new Array<Area | null>(size).fill(null);
    this.init();
  }

  private get isVf(): boolean {
    return this.fn.vf !== undefined;
  }

  // ---- hardware and shadow accessors ----

  private hw(pos: number, count: number): number {
    return this.fn.configRead(pos, count as AccessSize) >>> 0;
  }

  private hwWrite(pos: number, count: number, value: number): void {
    this.fn.configWrite(pos, count as AccessSize, value >>> 0);
  }

  private vget(pos: number, count: number): number {
    let v = 0;
    for (let i = count - 1; i >= 0; i--) v = v * 256 + this.vconfig[pos + i]!;
    return v >>> 0;
  }

  private vset(pos: number, count: number, value: number): void {
    for (let i = 0; i < count; i++) this.vconfig[pos + i] = (value >>> (8 * i)) & 0xff;
  }

  /** Copy hardware bytes into the shadow in the largest aligned pieces. */
  private fill(pos: number, length: number): void {
    let at = pos;
    const end = Math.min(pos + length, this.size);
    while (at < end) {
      const left = end - at;
      const n = left >= 4 && at % 4 === 0 ? 4 : left >= 2 && at % 2 === 0 ? 2 : 1;
      this.vset(at, n, this.hw(at, n));
      at += n;
    }
  }

  /** The command register as the user last wrote it (Memory/I/O bits included). */
  virtualCommand(): number {
    return this.vget(R.PCI_COMMAND, 2);
  }

  // ---- layout (done once, when the device is opened) ----

  /** Rebuild the shadow and the area map from the hardware, as vfio-pci does on open. */
  init(): void {
    this.vconfig.fill(0);
    this.areas.fill(null);
    this.extendedCaps = false;
    this.fill(0, R.PCI_STD_HEADER_SIZEOF);
    this.rbar.length = 0;
    for (let i = 0; i < R.PCI_NUM_BARS; i++) this.rbar.push(this.vget(R.PCI_BASE_ADDRESS_0 + 4 * i, 4));
    this.rbar.push(this.vget(R.PCI_ROM_ADDRESS, 4));
    this.place(0, R.PCI_STD_HEADER_SIZEOF, 0, false, this.headerPerms(), this.headerRead, this.headerWrite);
    this.walkCapabilities();
    if (this.extendedCaps) this.walkExtendedCapabilities();
  }

  private place(start: number, length: number, id: number, extended: boolean, perms: Perms | null, read: ReadFn, write: WriteFn | null): void {
    const end = Math.min(start + length, this.size);
    const area: Area = { start, length: end - start, id, extended, perms, read, write };
    for (let i = start; i < end; i++) this.areas[i] = area;
    this.fill(start, end - start);
  }

  private headerPerms(): Perms {
    return new Perms(R.PCI_STD_HEADER_SIZEOF)
      .set(R.PCI_VENDOR_ID, 2, 0xffff, 0)
      .set(R.PCI_DEVICE_ID, 2, 0xffff, 0)
      .set(R.PCI_COMMAND, 2, R.PCI_COMMAND_INTX_DISABLE, 0xffff)
      .set(R.PCI_STATUS, 2, R.PCI_STATUS_CAP_LIST, 0)
      .set(R.PCI_CACHE_LINE_SIZE, 1, 0, 0xff)
      .set(R.PCI_LATENCY_TIMER, 1, 0, 0xff)
      .set(R.PCI_BIST, 1, 0, 0xff)
      .set(R.PCI_CAPABILITY_LIST, 1, 0xff, 0)
      .set(R.PCI_INTERRUPT_LINE, 1, 0xff, 0xff)
      .set(R.PCI_INTERRUPT_PIN, 1, 0xff, 0)
      .set(R.PCI_ROM_ADDRESS, 4, ALL, ALL)
      .set(R.PCI_BASE_ADDRESS_0 + 0, 4, ALL, ALL)
      .set(R.PCI_BASE_ADDRESS_0 + 4, 4, ALL, ALL)
      .set(R.PCI_BASE_ADDRESS_0 + 8, 4, ALL, ALL)
      .set(R.PCI_BASE_ADDRESS_0 + 12, 4, ALL, ALL)
      .set(R.PCI_BASE_ADDRESS_0 + 16, 4, ALL, ALL)
      .set(R.PCI_BASE_ADDRESS_0 + 20, 4, ALL, ALL);
  }

  private walkCapabilities(): void {
    if ((this.hw(R.PCI_STATUS, 2) & R.PCI_STATUS_CAP_LIST) === 0) return;
    let pos = this.hw(R.PCI_CAPABILITY_LIST, 1);
    let prev = R.PCI_CAPABILITY_LIST;
    let shown = 0;
    // capabilities are dword aligned, which bounds the walk even if the list loops
    for (let loops = (R.PCI_CFG_SPACE_SIZE - R.PCI_STD_HEADER_SIZEOF) / 4; pos !== 0 && loops > 0; loops--) {
      const id = this.hw(pos, 1);
      const next = this.hw(pos + 1, 1);
      const kept = this.placeCapability(id, pos);
      if (!kept) {
        this.vconfig[prev] = next; // unlink it from the user's chain
      } else {
        prev = pos + 1;
        shown++;
      }
      pos = next;
    }
    if (shown === 0) this.vset(R.PCI_STATUS, 2, this.vget(R.PCI_STATUS, 2) & ~R.PCI_STATUS_CAP_LIST);
  }

  /** Lay out one standard capability; false when it is hidden. */
  private placeCapability(id: number, pos: number): boolean {
    const nextVirt = (p: Perms) => p.set(1, 1, 0xff, 0);
    switch (id) {
      case R.PCI_CAP_ID_PM: {
        const p = nextVirt(new Perms(R.PCI_PM_SIZEOF)).set(R.PCI_PM_CTRL, 4, 0, ~R.PCI_PM_CTRL_STATE_MASK >>> 0);
        this.place(pos, R.PCI_PM_SIZEOF, id, false, p, this.defaultRead, this.pmWrite);
        return true;
      }
      case R.PCI_CAP_ID_MSI: {
        const flags = this.hw(pos + R.PCI_MSI_FLAGS, 2);
        const is64 = (flags & R.PCI_MSI_FLAGS_64BIT) !== 0;
        const maskable = (flags & R.PCI_MSI_FLAGS_MASKBIT) !== 0;
        const length = 10 + (is64 ? 4 : 0) + (maskable ? 10 : 0);
        const p = nextVirt(new Perms(length)).set(R.PCI_MSI_FLAGS, 1, 0xff, 0xff).set(R.PCI_MSI_ADDRESS_LO, 4, ALL, ALL);
        const data = is64 ? 0x0c : 0x08;
        if (is64) p.set(0x08, 4, ALL, ALL);
        p.set(data, 2, 0xffff, 0xffff);
        if (maskable) p.set(data + 4, 4, 0, ALL).set(data + 8, 4, 0, ALL);
        this.place(pos, length, id, false, p, this.msiRead, this.msiWrite);
        return true;
      }
      case R.PCI_CAP_ID_EXP: {
        if (this.size > R.PCI_CFG_SPACE_SIZE && this.fn.config.size > R.PCI_CFG_SPACE_SIZE) {
          this.extendedCaps = this.hw(R.PCI_CFG_EXT_CAP_START, 4) !== 0;
        }
        const version = this.hw(pos + R.PCI_EXP_FLAGS, 2) & R.PCI_EXP_FLAGS_VERS;
        const length = version === 1 ? EXP_ENDPOINT_V1 : EXP_ENDPOINT_V2;
        const p = nextVirt(new Perms(length))
          .set(R.PCI_EXP_DEVCTL, 2, R.PCI_EXP_DEVCTL_BCR_FLR, ~PCI_EXP_DEVCTL_PHANTOM & 0xffff)
          .set(R.PCI_EXP_DEVCTL2, 2, 0, ~PCI_EXP_DEVCTL2_ARI & 0xffff);
        this.place(pos, length, id, false, p, this.defaultRead, this.expWrite);
        return true;
      }
      case R.PCI_CAP_ID_MSIX:
        this.place(pos, R.PCI_CAP_MSIX_SIZEOF, id, false, null, this.directRead, null);
        return true;
      case R.PCI_CAP_ID_VNDR:
        this.place(pos, this.hw(pos + 2, 1), id, false, null, this.directRead, this.rawWrite);
        return true;
      case CAP_ID_AF:
        this.place(pos, 6, id, false, null, this.directRead, null);
        return true;
      default:
        return false;
    }
  }

  private walkExtendedCapabilities(): void {
    let pos = R.PCI_CFG_EXT_CAP_START;
    let prev: number | null = null;
    let shown = 0;
    for (let loops = (this.size - R.PCI_CFG_SPACE_SIZE) / 4; loops > 0 && pos >= R.PCI_CFG_EXT_CAP_START; loops--) {
      const header = this.hw(pos, 4);
      const id = header & 0xffff;
      const next = (header >>> 20) & 0xffc;
      let length = this.extendedLength(id, pos);
      let hidden = false;
      if (length === 0) {
        if (prev !== null) {
          // skip it: point the previous header's next field past it
          this.vset(prev, 4, ((this.vget(prev, 4) & 0x000f_ffff) | (next << 20)) >>> 0);
          pos = next;
          continue;
        }
        // the first one anchors the list: keep a placeholder with only its next field
        length = 4;
        hidden = true;
      }
      const handlers = this.extendedHandlers(id, length);
      this.place(pos, length, id, true, handlers.perms, handlers.read, handlers.write);
      if (hidden) this.vset(pos, 4, this.vget(pos, 4) & (0xffc << 20));
      else shown++;
      prev = pos;
      pos = next;
    }
    if (shown === 0) this.vset(R.PCI_CFG_EXT_CAP_START, 4, 0);
  }

  private extendedLength(id: number, pos: number): number {
    switch (id) {
      case R.PCI_EXT_CAP_ID_ERR:
        return ERR_LENGTH;
      case EXT_CAP_ID_DSN:
        return 12;
      case R.PCI_EXT_CAP_ID_ARI:
        return 8;
      case R.PCI_EXT_CAP_ID_SRIOV:
        return R.PCI_EXT_CAP_SRIOV_SIZEOF;
      case EXT_CAP_ID_VNDR:
        return this.hw(pos + 4, 4) >>> 20;
      default:
        return 0;
    }
  }

  private extendedHandlers(id: number, length: number): { perms: Perms | null; read: ReadFn; write: WriteFn | null } {
    if (id === R.PCI_EXT_CAP_ID_ERR) {
      const p = new Perms(length)
        .set(0, 4, ALL, 0)
        .set(ERR_UNCOR_STATUS, 4, 0, ERR_UNCOR_BITS)
        .set(ERR_UNCOR_MASK, 4, 0, ERR_UNCOR_BITS)
        .set(ERR_UNCOR_SEVER, 4, 0, ERR_UNCOR_BITS)
        .set(ERR_COR_STATUS, 4, 0, ERR_COR_BITS)
        .set(ERR_COR_MASK, 4, 0, ERR_COR_BITS)
        .set(ERR_CAP, 4, 0, ERR_CAP_ECRC_BITS);
      return { perms: p, read: this.defaultRead, write: this.defaultWrite };
    }
    if (id === EXT_CAP_ID_VNDR) return { perms: null, read: this.directRead, write: this.rawWrite };
    return { perms: null, read: this.directRead, write: null };
  }

  // ---- the access path ----

  /** pread on the config region: bytes read, or EFAULT when [pos, pos+len) leaves the region. */
  read(pos: number, out: Uint8Array): number {
    return this.access(pos, out, false);
  }

  write(pos: number, data: Uint8Array): number {
    return this.access(pos, data, true);
  }

  private access(start: number, buf: Uint8Array, isWrite: boolean): number {
    let done = 0;
    while (done < buf.byteLength) {
      const pos = start + done;
      const left = buf.byteLength - done;
      if (pos < 0 || pos >= this.size || pos + left > this.size) {
        throw new Errno("EFAULT", `config access [0x${pos.toString(16)}, +${left}) leaves the ${this.size}-byte config region`, isWrite ? "pwrite" : "pread");
      }
      const count = this.chunk(pos, left);
      const area = this.areas[pos] ?? null;
      const offset = area ? pos - area.start : 0;
      if (isWrite) {
        let v = 0;
        for (let i = count - 1; i >= 0; i--) v = v * 256 + buf[done + i]!;
        if (!area) this.rawWrite(null, pos, count, 0, v >>> 0);
        else if (area.write) area.write(area, pos, count, offset, v >>> 0);
      } else {
        const v = area ? area.read(area, pos, count, offset) : this.rawRead(null, pos, count);
        for (let i = 0; i < count; i++) buf[done + i] = (v >>> (8 * i)) & 0xff;
      }
      done += count;
    }
    return done;
  }

  /** Size of the next piece: aligned, within one dword and one area. */
  private chunk(pos: number, left: number): number {
    const area = this.areas[pos];
    let room = 1;
    while ((pos + room) % 4 !== 0 && pos + room < this.size && this.areas[pos + room] === area) room++;
    const n = Math.min(left, room);
    if (n >= 4 && pos % 4 === 0) return 4;
    if (n >= 2 && pos % 2 === 0) return 2;
    return 1;
  }

  // ---- area behaviours ----

  private readonly rawRead = (_a: Area | null, pos: number, count: number): number => this.hw(pos, count);

  private readonly rawWrite = (_a: Area | null, pos: number, count: number, _offset: number, value: number): void => {
    this.hwWrite(pos, count, value);
  };

  /** Shadow for virtual bits, hardware for the rest. */
  private readonly defaultRead: ReadFn = (area, pos, count, offset) => {
    let value = this.vget(pos, count);
    const virt = area.perms!.bits("virt", offset, count);
    if (virt !== mask(count)) {
      const phys = this.hw(pos, count);
      value = ((phys & ~virt) | (value & virt)) >>> 0;
    }
    return value;
  };

  /** Writable virtual bits to the shadow, writable real bits read-modify-written to the hardware. */
  private readonly defaultWrite: WriteFn = (area, pos, count, offset, value) => {
    const write = area.perms!.bits("write", offset, count);
    if (write === 0) return;
    const virt = area.perms!.bits("virt", offset, count);
    const toShadow = (write & virt) >>> 0;
    const toHw = (write & ~virt) >>> 0;
    if (toShadow) this.vset(pos, count, ((this.vget(pos, count) & ~toShadow) | (value & toShadow)) >>> 0);
    if (toHw) this.hwWrite(pos, count, ((this.hw(pos, count) & ~toHw) | (value & toHw)) >>> 0);
  };

  /** Hardware, except the capability's own id/next bytes (or extended header), which come from the shadow. */
  private readonly directRead: ReadFn = (area, pos, count, offset) => {
    let value = this.hw(pos, count);
    if (area.extended) {
      if (offset < 4) value = this.vget(pos, count);
    } else if (offset === 0 && count > 1) {
      const n = Math.min(2, count);
      value = ((value & ~mask(n)) | this.vget(pos, n)) >>> 0;
    } else if (offset === 1) {
      value = ((value & ~0xff) | this.vget(pos, 1)) >>> 0;
    }
    return value;
  };

  private readonly headerRead: ReadFn = (area, pos, count, offset) => {
    if (isBarOffset(offset)) this.barFixup();
    let value = this.defaultRead(area, pos, count, offset);
    // a VF's Memory Space Enable lives in the PF; show what the user wrote
    if (offset === R.PCI_COMMAND && this.isVf) value = (value | (this.virtualCommand() & R.PCI_COMMAND_MEMORY)) >>> 0;
    return value;
  };

  private readonly headerWrite: WriteFn = (area, pos, count, offset, value) => {
    const newCmd = value & 0xffff;
    if (offset === R.PCI_COMMAND) {
      const phys = this.hw(R.PCI_COMMAND, 2);
      const virt = this.virtualCommand();
      const enabling = (bit: number) => (newCmd & bit) !== 0 && (virt & bit) !== 0 && (phys & bit) === 0;
      // enabled here but not in the hardware: it was reset behind our back
      if (enabling(R.PCI_COMMAND_MEMORY) || enabling(R.PCI_COMMAND_IO) || this.barsLost()) this.restoreBars();
    }
    this.defaultWrite(area, pos, count, offset, value);
    if (offset === R.PCI_COMMAND) {
      const keep = R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_IO;
      this.vset(R.PCI_COMMAND, 2, (this.virtualCommand() & ~keep) | (newCmd & keep));
    }
    if (offset >= R.PCI_COMMAND && offset <= R.PCI_COMMAND + 1) {
      this.hooks.intxDisableWritten((this.virtualCommand() & R.PCI_COMMAND_INTX_DISABLE) !== 0);
    }
  };

  private readonly pmWrite: WriteFn = (area, pos, count, offset, value) => {
    this.defaultWrite(area, pos, count, offset, value);
    if (offset === R.PCI_PM_CTRL) {
      // the power state bits are the host's to set (pci_set_power_state)
      const ctrl = this.hw(pos, 2) & ~(R.PCI_PM_CTRL_STATE_MASK | R.PCI_PM_CTRL_PME_STATUS);
      this.hwWrite(pos, 2, ctrl | (value & R.PCI_PM_CTRL_STATE_MASK));
    }
  };

  private readonly msiRead: ReadFn = (area, pos, count, offset) => {
    if (offset <= R.PCI_MSI_FLAGS && offset + count >= R.PCI_MSI_FLAGS) {
      const at = area.start + R.PCI_MSI_FLAGS;
      this.vset(at, 2, (this.vget(at, 2) & ~R.PCI_MSI_FLAGS_QMASK) | (this.hooks.msiQmax() << 1));
    }
    return this.defaultRead(area, pos, count, offset);
  };

  private readonly msiWrite: WriteFn = (area, pos, count, offset, value) => {
    this.defaultWrite(area, pos, count, offset, value);
    if (offset <= R.PCI_MSI_FLAGS && offset + count >= R.PCI_MSI_FLAGS) {
      const at = area.start + R.PCI_MSI_FLAGS;
      let flags = this.vget(at, 2);
      if (!this.hooks.msiActive()) flags &= ~R.PCI_MSI_FLAGS_ENABLE;
      const qmax = this.hooks.msiQmax();
      if ((flags & R.PCI_MSI_FLAGS_QSIZE) >> 4 > qmax) flags = (flags & ~R.PCI_MSI_FLAGS_QSIZE) | (qmax << 4);
      this.vset(at, 2, flags);
      this.hwWrite(at, 2, flags);
    }
  };

  private readonly expWrite: WriteFn = (area, pos, count, offset, value) => {
    this.defaultWrite(area, pos, count, offset, value);
    const ctl = area.start + R.PCI_EXP_DEVCTL;
    const v = this.vget(ctl, 2);
    if (v & R.PCI_EXP_DEVCTL_BCR_FLR) {
      // reads as zero whatever happens
      this.vset(ctl, 2, v & ~R.PCI_EXP_DEVCTL_BCR_FLR);
      if (this.hw(area.start + R.PCI_EXP_DEVCAP, 4) & R.PCI_EXP_DEVCAP_FLR) this.hooks.functionReset();
    }
  };

  // ---- BARs ----

  /** Make the virtual BARs answer like hardware: address bits kept, size bits zero, type bits fixed. */
  private barFixup(): void {
    for (let i = 0; i < R.PCI_NUM_BARS; i++) {
      const reg = R.PCI_BASE_ADDRESS_0 + 4 * i;
      const def = this.fn.bar(i);
      const start = def ? (this.fn.barAddress(i) ?? 0n) : 0n;
      if (!def || start === 0n) {
        this.vset(reg, 4, 0); // not given an address by the host: unimplemented to the user
        continue;
      }
      const sizeMask = ~(BigInt(def.size) - 1n) & 0xffff_ffff_ffff_ffffn;
      let flags = 0;
      if (def.kind === "io") flags = R.PCI_BASE_ADDRESS_SPACE_IO;
      else flags = (def.prefetchable ? R.PCI_BASE_ADDRESS_MEM_PREFETCH : 0) | (def.kind === "mem64" ? R.PCI_BASE_ADDRESS_MEM_TYPE_64 : 0);
      this.vset(reg, 4, ((this.vget(reg, 4) & Number(sizeMask & 0xffff_ffffn)) | flags) >>> 0);
      if (def.kind === "mem64") {
        this.vset(reg + 4, 4, (this.vget(reg + 4, 4) & Number(sizeMask >> 32n)) >>> 0);
        i++;
      }
    }
    // the emulated functions have no expansion ROM
    this.vset(R.PCI_ROM_ADDRESS, 4, 0);
  }

  private barsLost(): boolean {
    for (let i = 0; i < R.PCI_NUM_BARS; i++) {
      const saved = this.rbar[i]!;
      if (saved !== 0 && this.hw(R.PCI_BASE_ADDRESS_0 + 4 * i, 4) !== saved) return true;
    }
    return false;
  }

  private restoreBars(): void {
    if (this.isVf) return;
    for (let i = 0; i < R.PCI_NUM_BARS; i++) this.hwWrite(R.PCI_BASE_ADDRESS_0 + 4 * i, 4, this.rbar[i]!);
    this.hwWrite(R.PCI_ROM_ADDRESS, 4, this.rbar[R.PCI_NUM_BARS]!);
  }
}
