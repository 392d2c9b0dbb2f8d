/**
 * Configuration space of one PCI function: 4 KiB of bytes plus, for every
 * byte, a mask of the bits software may write and a mask of the bits that
 * are write-1-to-clear. Bits in neither mask are read-only to software.
 *
 * Two kinds of access exist:
 * - `read`/`write` are what software (the host kernel) does: aligned 1/2/4
 *   byte accesses that honour the masks and notify watchers;
 * - `peek`/`poke` are the hardware's own view: any width up to 4, no masks,
 *   no notifications (used by capabilities to publish status bits).
 */
import { PCI_CFG_SPACE_EXP_SIZE, PCI_CFG_SPACE_SIZE } from "../../uapi/pci-regs.js";

export type AccessSize = 1 | 2 | 4;

export function isAccessSize(n: number): n is AccessSize {
  return n === 1 || n === 2 || n === 4;
}

/** Thrown for software accesses that a real config cycle could not express. */
export class ConfigAccessError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "ConfigAccessError";
  }
}

export type FieldWatcher = (before: number, after: number) => void;
/** Told which software access touched a watched range. */
export type RangeWatcher = (offset: number, size: AccessSize) => void;

interface Watch {
  offset: number;
  width: number;
  /** field watchers get values; range watchers get the access */
  field?: FieldWatcher;
  range?: RangeWatcher;
}

export interface FieldMasks {
  /** bits software may set and clear */
  rw?: number;
  /** bits software clears by writing 1 */
  w1c?: number;
}

function checkField(offset: number, width: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + width > PCI_CFG_SPACE_EXP_SIZE) {
    throw new ConfigAccessError(`config field [${offset}, +${width}) outside the 4 KiB space`);
  }
  if (width < 1 || width > 4) throw new ConfigAccessError(`config field width ${width} not in 1..4`);
}

export class ConfigSpace {
  /** Bytes software can reach: 256 for conventional functions, 4096 for PCI Express. */
  readonly size: number;
  private readonly data = new Uint8Array(PCI_CFG_SPACE_EXP_SIZE);
  private readonly rwMask = new Uint8Array(PCI_CFG_SPACE_EXP_SIZE);
  private readonly w1cMask = new Uint8Array(PCI_CFG_SPACE_EXP_SIZE);
  private defaults: Uint8Array | null = null;
  private readonly watches: Watch[] = [];

  constructor(extended: boolean) {
    this.size = extended ? PCI_CFG_SPACE_EXP_SIZE : PCI_CFG_SPACE_SIZE;
  }

  /** Hardware read of a little-endian field of 1..4 bytes, ignoring masks. */
  peek(offset: number, width: number): number {
    checkField(offset, width);
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + this.data[offset + i]!;
    return v;
  }

  /** Hardware write of a little-endian field of 1..4 bytes, ignoring masks and watchers. */
  poke(offset: number, width: number, value: number): void {
    checkField(offset, width);
    let v = value >>> 0;
    for (let i = 0; i < width; i++) {
      this.data[offset + i] = v & 0xff;
      v >>>= 8;
    }
  }

  /** Sets a field's value and its software masks (bits outside both masks become read-only). */
  define(offset: number, width: number, value: number, masks: FieldMasks = {}): void {
    this.poke(offset, width, value);
    this.setMasks(offset, width, masks);
  }

  setMasks(offset: number, width: number, masks: FieldMasks): void {
    checkField(offset, width);
    let rw = (masks.rw ?? 0) >>> 0;
    let w1c = (masks.w1c ?? 0) >>> 0;
    if ((rw & w1c) !== 0) throw new Error("a config bit cannot be both read-write and write-1-to-clear");
    for (let i = 0; i < width; i++) {
      this.rwMask[offset + i] = rw & 0xff;
      this.w1cMask[offset + i] = w1c & 0xff;
      rw >>>= 8;
      w1c >>>= 8;
    }
  }

  /** Software-writable bits of a field (for documentation and tests). */
  writableBits(offset: number, width: number): { rw: number; w1c: number } {
    checkField(offset, width);
    let rw = 0;
    let w1c = 0;
    for (let i = width - 1; i >= 0; i--) {
      rw = rw * 256 + this.rwMask[offset + i]!;
      w1c = w1c * 256 + this.w1cMask[offset + i]!;
    }
    return { rw, w1c };
  }

  private checkSoftwareAccess(offset: number, size: number): void {
    if (!isAccessSize(size)) throw new ConfigAccessError(`config access size ${size} is not 1, 2 or 4`);
    if (!Number.isInteger(offset) || offset < 0 || offset + size > this.size) {
      throw new ConfigAccessError(`config access [${offset}, +${size}) outside the ${this.size}-byte space`);
    }
    if (offset % size !== 0) throw new ConfigAccessError(`config access of ${size} bytes at unaligned offset ${offset}`);
  }

  /** Software read: aligned 1, 2 or 4 bytes. */
  read(offset: number, size: AccessSize): number {
    this.checkSoftwareAccess(offset, size);
    return this.peek(offset, size);
  }

  /** Software write: aligned 1, 2 or 4 bytes, applied through the masks, then watchers run. */
  write(offset: number, size: AccessSize, value: number): void {
    this.checkSoftwareAccess(offset, size);
    const end = offset + size;
    const touched = this.watches.filter((w) => w.offset < end && offset < w.offset + w.width);
    const before = touched.map((w) => (w.field ? this.peek(w.offset, w.width) : 0));
    let v = value >>> 0;
    for (let i = offset; i < end; i++) {
      const b = v & 0xff;
      v >>>= 8;
      const rw = this.rwMask[i]!;
      const w1c = this.w1cMask[i]!;
      const old = this.data[i]!;
      this.data[i] = (old & ~(rw | w1c)) | (b & rw) | (old & w1c & ~b);
    }
    touched.forEach((w, k) => {
      if (w.field) w.field(before[k]!, this.peek(w.offset, w.width));
      else w.range!(offset, size);
    });
  }

  /** Calls `fn(before, after)` after every software write that touches the field. Returns an unsubscribe. */
  watch(offset: number, width: number, fn: FieldWatcher): () => void {
    checkField(offset, width);
    return this.addWatch({ offset, width, field: fn });
  }

  /** Calls `fn(offset, size)` after every software write that touches [offset, offset+length). */
  watchRange(offset: number, length: number, fn: RangeWatcher): () => void {
    if (!Number.isInteger(offset) || offset < 0 || length < 1 || offset + length > PCI_CFG_SPACE_EXP_SIZE) {
      throw new ConfigAccessError(`watched range [${offset}, +${length}) outside the 4 KiB space`);
    }
    return this.addWatch({ offset, width: length, range: fn });
  }

  private addWatch(w: Watch): () => void {
    this.watches.push(w);
    return () => {
      const i = this.watches.indexOf(w);
      if (i >= 0) this.watches.splice(i, 1);
    };
  }

  /** Records the current bytes as the power-on / reset values. */
  captureDefaults(): void {
    this.defaults = this.data.slice();
  }

  get hasDefaults(): boolean {
    return this.defaults !== null;
  }

  /** Puts every byte back to its captured reset value (watchers are not called). */
  restoreDefaults(): void {
    if (!this.defaults) throw new Error("config space defaults were never captured");
    this.data.set(this.defaults);
  }

  /** A copy of the software-visible bytes. */
  snapshot(): Uint8Array {
    return this.data.slice(0, this.size);
  }
}
