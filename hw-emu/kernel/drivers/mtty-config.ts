/**
 * The config region the mtty-like driver presents: a 255-byte (0xff) block the
 * driver builds once when the mdev is created and keeps across opens and
 * resets, as the kernel's mtty sample does. The device is not behind a real
 * PCI config space, so almost nothing in it is writable:
 * - BAR0 (and BAR1 with two ports) take an address; all-ones returns the size
 *   mask for sizing, other values are stored as written with the I/O bit kept;
 *   BAR1 of a one-port device, and BAR2..BAR4, always read back 0 once written;
 * - Interrupt Line is stored; everything else (command, status, Interrupt Pin,
 *   IDs) ignores writes.
 * Identity (IDs, revision, class, interrupt pin) comes from the device model's
 * function, so sysfs and the region agree; the layout and the vendor-specific
 * bytes follow mtty.
 */
import type { PciFunction } from "../../hw/pci/function.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_1,
  PCI_BASE_ADDRESS_2,
  PCI_BASE_ADDRESS_3,
  PCI_BASE_ADDRESS_4,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "../../uapi/pci-regs.js";

/** mtty's config region size: one byte short of a conventional 256-byte space. */
export const MTTY_CONFIG_SIZE = 0xff;
/** Each port's I/O BAR. */
export const MTTY_IO_BAR_SIZE = 8;

/** status as mtty reports it (medium DEVSEL timing, no capability list) */
const STATUS = 0x0200;
/** the two low bits of a BAR the user cannot change */
const BAR_FIXED_BITS = 0x3;
/** vendor-specific bytes mtty places at 0x40.., then a text tag at 0x60 */
const VENDOR_BYTES: readonly [number, number][] = [
  [0x40, 0x23],
  [0x43, 0x80],
  [0x44, 0x23],
  [0x48, 0x23],
  [0x4c, 0x23],
];
const TAG_OFFSET = 0x60;
const TAG = "PCI Serial/UART";

export class MttyConfigSpace {
  readonly size = MTTY_CONFIG_SIZE;
  private readonly bytes = new Uint8Array(MTTY_CONFIG_SIZE);
  private readonly view = new DataView(this.bytes.buffer);
  /** the size mask each port BAR answers to an all-ones write */
  private readonly barMask = (~MTTY_IO_BAR_SIZE + 1) >>> 0;

  constructor(
    fn: PciFunction,
    private readonly ports: number,
  ) {
    const ids = fn.configRead(PCI_VENDOR_ID, 4) >>> 0;
    this.view.setUint32(PCI_VENDOR_ID, ids, true);
    this.view.setUint16(PCI_COMMAND, PCI_COMMAND_IO, true);
    this.view.setUint16(PCI_STATUS, STATUS, true);
    // revision and the three class-code bytes
    this.view.setUint32(PCI_REVISION_ID, fn.configRead(PCI_REVISION_ID, 4) >>> 0, true);
    this.view.setUint32(PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_SPACE_IO, true);
    if (ports === 2) this.view.setUint32(PCI_BASE_ADDRESS_1, PCI_BASE_ADDRESS_SPACE_IO, true);
    // mtty reuses the ID dword as subsystem vendor/device
    this.view.setUint32(PCI_SUBSYSTEM_VENDOR_ID, ids, true);
    this.bytes[PCI_CAPABILITY_LIST] = 0;
    this.bytes[PCI_INTERRUPT_PIN] = fn.configRead(PCI_INTERRUPT_PIN, 1);
    for (const [at, v] of VENDOR_BYTES) this.bytes[at] = v;
    this.bytes.set(new TextEncoder().encode(TAG), TAG_OFFSET);
  }

  /**
   * Copy `buf.length` bytes from `offset`. mtty does not bound-check this copy;
   * bytes past the 255-byte block read as 0 here rather than as whatever
   * follows the allocation.
   */
  read(offset: number, buf: Uint8Array): void {
    for (let i = 0; i < buf.length; i++) {
      const at = offset + i;
      buf[i] = at < MTTY_CONFIG_SIZE ? this.bytes[at]! : 0;
    }
  }

  /**
   * One write access (1, 2 or 4 bytes, naturally aligned). Only its start
   * offset selects the register, as in mtty: a 4-byte write at 0x3c sets the
   * Interrupt Line from its first byte and nothing else.
   */
  write(offset: number, data: Uint8Array): void {
    switch (offset) {
      case PCI_INTERRUPT_LINE:
        this.bytes[PCI_INTERRUPT_LINE] = data[0]!;
        return;
      case PCI_BASE_ADDRESS_0:
      case PCI_BASE_ADDRESS_1:
        this.writePortBar(offset === PCI_BASE_ADDRESS_0 ? 0 : 1, offset, data);
        return;
      case PCI_BASE_ADDRESS_2:
      case PCI_BASE_ADDRESS_3:
      case PCI_BASE_ADDRESS_4:
        this.view.setUint32(offset, 0, true);
        return;
      default:
        // command, status, Interrupt Pin and everything else ignore writes
        return;
    }
  }

  private writePortBar(port: number, offset: number, data: Uint8Array): void {
    if (port >= this.ports) {
      this.view.setUint32(offset, 0, true);
      return;
    }
    // a narrower write supplies only its own bytes; the rest count as 0
    let value = 0;
    for (let i = Math.min(data.length, 4) - 1; i >= 0; i--) value = value * 256 + data[i]!;
    if (value === 0xffff_ffff) value = value & this.barMask;
    value = (value | (this.bytes[offset]! & BAR_FIXED_BITS)) >>> 0;
    this.view.setUint32(offset, value, true);
  }
}
