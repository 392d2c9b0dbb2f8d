/**
 * QEMU's `edu` teaching device (docs/specs/edu.rst), driven from userspace
 * through BAR0: identification, liveness, factorial, interrupt raise and
 * acknowledge, and its DMA engine with a 4096-byte buffer at device address
 * 0x40000. Registers below 0x80 take 4-byte accesses only.
 */
import type { Mapping } from "../../../hw-emu/uapi/index.js";
import type { Region } from "../../../kernel-lib/vfio/index.js";
import { sleepMs } from "./report.js";

export const EDU = {
  VENDOR: 0x1234,
  DEVICE: 0x11e8,
  BAR0_SIZE: 0x100000n,
  ID: 0x00,
  LIVENESS: 0x04,
  FACTORIAL: 0x08,
  STATUS: 0x20,
  IRQ_STATUS: 0x24,
  IRQ_RAISE: 0x60,
  IRQ_ACK: 0x64,
  DMA_SRC: 0x80,
  DMA_DST: 0x88,
  DMA_COUNT: 0x90,
  DMA_CMD: 0x98,
  STATUS_COMPUTING: 0x01,
  CMD_START: 0x01,
  CMD_TO_RAM: 0x02,
  CMD_IRQ: 0x04,
  /** the interrupt status bit a DMA completion raises */
  IRQ_DMA: 0x100,
  /** the device-side DMA buffer */
  BUFFER: 0x40000,
  /**
   * Transfers must stay under 4096 bytes: QEMU 7.2's range check rejects a
   * transfer that ends exactly at the buffer's end, and aborts the whole VM.
   */
  MAX_TRANSFER: 4095,
  /** edu masks DMA addresses to 28 bits by default: IOVAs must stay below 256 MiB */
  DMA_LIMIT: 1n << 28n,
} as const;

/** 32-bit register access, through pread/pwrite on the region or through an mmap of it. */
export interface Registers {
  read(offset: number): number;
  write(offset: number, value: number): void;
}

export function viaRegion(bar: Region): Registers {
  return { read: (o) => bar.readU32(o), write: (o, v) => bar.writeU32(o, v) };
}

export function viaMapping(m: Mapping): Registers {
  return {
    read: (o) => new DataView(m.read(o, 4).buffer).getUint32(0, true),
    write: (o, v) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v >>> 0, true);
      m.write(o, b);
    },
  };
}

/** Poll until `done()` or the deadline; the device works on QEMU's virtual clock, which TCG runs slower than real time. */
function waitFor(done: () => boolean, what: string, timeoutMs = 10_000): void {
  const step = 5;
  for (let waited = 0; waited <= timeoutMs; waited += step) {
    if (done()) return;
    sleepMs(step);
  }
  throw new Error(`edu: ${what} did not finish within ${timeoutMs} ms`);
}

export class Edu {
  constructor(readonly regs: Registers) {}

  factorial(n: number): number {
    this.regs.write(EDU.FACTORIAL, n);
    waitFor(() => (this.regs.read(EDU.STATUS) & EDU.STATUS_COMPUTING) === 0, "the factorial");
    return this.regs.read(EDU.FACTORIAL);
  }

  /** One DMA transfer; addresses below 4 GiB (a 4-byte write sets the whole 64-bit register). */
  dma(src: number, dst: number, count: number, toRam: boolean, options: { irq?: boolean } = {}): void {
    if (count <= 0 || count > EDU.MAX_TRANSFER) throw new RangeError(`edu DMA of ${count} bytes: keep it between 1 and ${EDU.MAX_TRANSFER}`);
    this.regs.write(EDU.DMA_SRC, src);
    this.regs.write(EDU.DMA_DST, dst);
    this.regs.write(EDU.DMA_COUNT, count);
    this.regs.write(EDU.DMA_CMD, EDU.CMD_START | (toRam ? EDU.CMD_TO_RAM : 0) | (options.irq ? EDU.CMD_IRQ : 0));
    waitFor(() => (this.regs.read(EDU.DMA_CMD) & EDU.CMD_START) === 0, "the DMA");
  }

  raise(bits: number): void {
    this.regs.write(EDU.IRQ_RAISE, bits);
  }

  ack(bits: number): void {
    this.regs.write(EDU.IRQ_ACK, bits);
  }
}
