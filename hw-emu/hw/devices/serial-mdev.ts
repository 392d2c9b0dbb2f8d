/**
 * A serial-port mediated device, modelled on the behaviour of the kernel's
 * mtty sample: one or two 16550-style UARTs behind 8-byte I/O BARs, bytes
 * written to the transmit register loop back into a 16-byte FIFO that the
 * receive register drains, INTx or a single MSI signalled directly (an mdev
 * has no MSI capability; the interrupt type is whatever the kernel layer
 * selected), no DMA at all, and all eight migration states.
 *
 * Config space is kept at 256 bytes, but `configSize` is 255 because mtty
 * reports a 0xff-byte config region and the kernel layer should too.
 *
 * State stream: a 24-byte header {u64 magic 0x7e9d09898c3e2c4e, u32 major 1,
 * u32 minor 0, u32 port count, u32 flags 0} followed by 36 bytes per port:
 * 8 UART registers, 16 FIFO bytes, head, tail, count, flags (bit0 DLAB,
 * bit1 overrun), u16 divisor, FCR, FIFO size, trigger level, 3 reserved.
 * Pre-copy offers only the header; stop-copy appends the ports.
 */
import type { TimeSource } from "../../sim/clock.js";
import type { AccessSize } from "../pci/config-space.js";
import { PciFunction } from "../pci/function.js";
import { InterruptLog, type InterruptConsumer } from "../pci/interrupt-log.js";
import { DeviceModel, type DeviceTraits } from "./device-base.js";
import { PageDirtyLog } from "./dma-log.js";
import { DeviceMigrationError, type MigrationFeatures, type ResumeStream, type RunState, type SaveStream } from "./migration.js";

export const SERIAL_VENDOR_ID = 0x1234;
export const SERIAL_DEVICE_ID = 0x7e30;
/** What the config region reports, as mtty does (one byte short of 256). */
export const SERIAL_CONFIG_SIZE = 0xff;
export const SERIAL_IO_BAR_SIZE = 8;
export const SERIAL_FIFO_SIZE = 16;
export const SERIAL_MAGIC = 0x7e9d09898c3e2c4en;
export const SERIAL_MAJOR = 1;
export const SERIAL_MINOR = 0;
export const SERIAL_HEADER_SIZE = 24;
export const SERIAL_PORT_STATE_SIZE = 36;

// UART register offsets and bits (16550).
export const UART_RX = 0;
export const UART_TX = 0;
export const UART_IER = 1;
export const UART_IIR = 2;
export const UART_FCR = 2;
export const UART_LCR = 3;
export const UART_MCR = 4;
export const UART_LSR = 5;
export const UART_MSR = 6;
export const UART_SCR = 7;
export const UART_IER_RDI = 0x01;
export const UART_IER_THRI = 0x02;
export const UART_IER_RLSI = 0x04;
export const UART_IER_MSI = 0x08;
export const UART_IIR_NO_INT = 0x01;
export const UART_IIR_MSI = 0x00;
export const UART_IIR_THRI = 0x02;
export const UART_IIR_RDI = 0x04;
export const UART_IIR_RLSI = 0x06;
export const UART_FCR_ENABLE_FIFO = 0x01;
export const UART_FCR_CLEAR_RCVR = 0x02;
export const UART_FCR_CLEAR_XMIT = 0x04;
export const UART_LCR_DLAB = 0x80;
export const UART_MCR_DTR = 0x01;
export const UART_MCR_RTS = 0x02;
export const UART_MCR_OUT2 = 0x08;
export const UART_MCR_AFE = 0x20;
export const UART_LSR_DR = 0x01;
export const UART_LSR_OE = 0x02;
export const UART_LSR_THRE = 0x20;
export const UART_LSR_TEMT = 0x40;
export const UART_MSR_DCTS = 0x01;
export const UART_MSR_DDSR = 0x02;
export const UART_MSR_CTS = 0x10;
export const UART_MSR_DSR = 0x20;
export const UART_MSR_DCD = 0x80;

export type SerialIrqMode = "none" | "intx" | "msi";

interface Port {
  regs: Uint8Array; // 8 UART registers (IER, LCR, MCR, SCR are the stored ones)
  fifo: Uint8Array;
  head: number;
  tail: number;
  count: number;
  dlab: boolean;
  overrun: boolean;
  divisor: number;
  fcr: number;
  maxFifo: number;
  trigger: number;
}

function newPort(): Port {
  return { regs: new Uint8Array(8), fifo: new Uint8Array(SERIAL_FIFO_SIZE), head: 0, tail: 0, count: 0, dlab: false, overrun: false, divisor: 0, fcr: 0, maxFifo: SERIAL_FIFO_SIZE, trigger: 1 };
}

export interface SerialMdevOptions {
  name?: string;
  /** 1 or 2 ports */
  ports?: number;
  time?: TimeSource | null;
  interruptLog?: InterruptLog;
}

export class SerialMdev extends DeviceModel {
  readonly kind = "serial-mdev";
  readonly name: string;
  readonly fn: PciFunction;
  readonly features: MigrationFeatures = { stopCopy: true, p2p: true, preCopy: true, dmaLogging: true };
  readonly preCopyEmptyRead = "zero" as const;
  readonly traits: DeviceTraits = { dma: false, p2pInitiator: false, p2pTarget: false };
  readonly configSize = SERIAL_CONFIG_SIZE;
  readonly portCount: number;
  readonly interruptLog: InterruptLog;
  private ports: Port[];
  private readonly wire: number[][];
  private irqMode: SerialIrqMode = "none";
  private intxConsumer: InterruptConsumer | null = null;
  private msiConsumer: InterruptConsumer | null = null;
  private intxMasked = false;
  /** an interrupt raised while stopped, signalled when running again */
  private heldInterrupt = false;

  constructor(opts: SerialMdevOptions = {}) {
    super({ time: opts.time ?? null });
    const n = opts.ports ?? 1;
    if (n !== 1 && n !== 2) throw new RangeError("a serial mdev has 1 or 2 ports");
    this.portCount = n;
    this.name = opts.name ?? `serial-mdev-${n}p`;
    this.interruptLog = opts.interruptLog ?? new InterruptLog(opts.time ?? null);
    this.ports = Array.from({ length: n }, newPort);
    this.wire = Array.from({ length: n }, () => []);
    const bar = (index: number) => ({
      kind: "io" as const,
      size: SERIAL_IO_BAR_SIZE,
      handler: {
        read: (o: number, s: AccessSize) => this.barAccessRead(index, o, s),
        write: (o: number, s: AccessSize, v: number) => this.barAccessWrite(index, o, s, v),
      },
    });
    this.fn = new PciFunction({
      name: this.name,
      vendorId: SERIAL_VENDOR_ID,
      deviceId: SERIAL_DEVICE_ID,
      classCode: 0x070002, // 16550-compatible serial controller
      revisionId: 0x10,
      interruptPin: 1,
      pcie: false,
      powerManagement: false,
      bars: n === 2 ? { 0: bar(0), 1: bar(1) } : { 0: bar(0) },
    });
    // Mediated devices are not on a PCI bus: their config space is final now.
    this.fn.seal();
    // Like mtty's dummy log ops: logging can be started and reported, but a device without DMA never dirties a page.
    this.pageLog = new PageDirtyLog();
    this.installResetHook();
  }

  // ---- interrupts (mdev style: signalled directly) ----

  /** Which interrupt the kernel layer enabled (SET_IRQS on INTx or MSI). */
  setIrqMode(mode: SerialIrqMode): void {
    this.irqMode = mode;
    this.intxMasked = false;
  }

  get interruptMode(): SerialIrqMode {
    return this.irqMode;
  }

  setIntxConsumer(consumer: InterruptConsumer | null): void {
    this.intxConsumer = consumer;
  }

  setMsiConsumer(consumer: InterruptConsumer | null): void {
    this.msiConsumer = consumer;
  }

  /** INTx is automasked after each signal until the kernel layer unmasks it. */
  get intxIsMasked(): boolean {
    return this.intxMasked;
  }

  unmaskIntx(): void {
    this.intxMasked = false;
  }

  maskIntx(): void {
    this.intxMasked = true;
  }

  /** An interrupt raised while stopped and not yet signalled. */
  get interruptPending(): boolean {
    return this.heldInterrupt;
  }

  private trigger(): void {
    if (this.runState === "stopped") {
      this.heldInterrupt = true;
      this.interruptLog.record({ source: this.name, kind: this.irqMode === "msi" ? "msi" : "intx", vector: 0, cause: "fire", outcome: "pending", consumed: false });
      return;
    }
    this.signal("fire");
  }

  private signal(cause: "fire" | "unmask"): void {
    const log = this.interruptLog;
    if (this.irqMode === "msi") {
      log.record({ source: this.name, kind: "msi", vector: 0, cause, outcome: "delivered", consumed: this.msiConsumer !== null });
      this.msiConsumer?.({ kind: "msi", vector: 0, address: 0n, data: 0, time: log.now() });
    } else if (this.irqMode === "intx") {
      if (this.intxMasked) {
        log.record({ source: this.name, kind: "intx", vector: 0, cause, outcome: "dropped-disabled", consumed: false });
        return;
      }
      this.intxMasked = true;
      log.record({ source: this.name, kind: "intx", vector: 0, cause, outcome: "delivered", consumed: this.intxConsumer !== null, data: 1 });
      this.intxConsumer?.({ kind: "intx", vector: 0, address: 0n, data: 1, time: log.now() });
    } else {
      log.record({ source: this.name, kind: "intx", vector: 0, cause, outcome: "dropped-disabled", consumed: false });
    }
  }

  protected onRunStateChange(_prev: RunState, next: RunState): void {
    if (next === "stopped") return;
    if (this.heldInterrupt) {
      this.heldInterrupt = false;
      this.signal("unmask");
    }
    for (let p = 0; p < this.portCount; p++) this.drainWire(p);
  }

  // ---- UART ----

  private checkPort(port: number): Port {
    const p = this.ports[port];
    if (!p) throw new RangeError(`port ${port} not in 0..${this.portCount - 1}`);
    return p;
  }

  private barAccessRead(index: number, offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.portRead(index, offset + i);
    return v;
  }

  private barAccessWrite(index: number, offset: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.portWrite(index, offset + i, (value >>> (8 * i)) & 0xff);
  }

  private fifoPush(p: Port, byte: number): void {
    if (p.count < p.maxFifo) {
      p.fifo[p.head] = byte;
      p.count++;
      p.head = (p.head + 1) & (SERIAL_FIFO_SIZE - 1);
      p.overrun = false;
      if (p.regs[UART_IER]! & UART_IER_RDI && p.count === p.trigger) this.trigger();
    } else {
      p.overrun = true;
      if (p.regs[UART_IER]! & UART_IER_RLSI) this.trigger();
    }
  }

  /** Region write of one byte at `offset` of port `port`'s I/O BAR (what the mdev driver's write does). */
  portWrite(port: number, offset: number, value: number): void {
    const p = this.checkPort(port);
    const data = value & 0xff;
    switch (offset) {
      case UART_TX:
        if (p.dlab) {
          p.divisor = (p.divisor & 0xff00) | data;
          return;
        }
        this.fifoPush(p, data);
        return;
      case UART_IER:
        if (p.dlab) {
          p.divisor = (p.divisor & 0x00ff) | (data << 8);
          return;
        }
        p.regs[UART_IER] = data;
        if (data & UART_IER_THRI && p.head === p.tail) this.trigger();
        return;
      case UART_FCR:
        p.fcr = data;
        if (data & (UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT)) {
          p.count = 0;
          p.head = 0;
          p.tail = 0;
        }
        // Trigger levels above 1 would need a character timeout; like mtty, the level stays 1.
        p.trigger = 1;
        p.maxFifo = data & UART_FCR_ENABLE_FIFO ? SERIAL_FIFO_SIZE : 1;
        return;
      case UART_LCR:
        p.dlab = (data & UART_LCR_DLAB) !== 0;
        if (p.dlab) p.divisor = 0;
        p.regs[UART_LCR] = data;
        return;
      case UART_MCR:
        p.regs[UART_MCR] = data;
        if (p.regs[UART_IER]! & UART_IER_MSI && data & (UART_MCR_OUT2 | UART_MCR_RTS | UART_MCR_DTR)) this.trigger();
        return;
      case UART_SCR:
        p.regs[UART_SCR] = data;
        return;
      default:
        // LSR and MSR are read-only.
        return;
    }
  }

  /** Region read of one byte (reading RX consumes it, as on the hardware). */
  portRead(port: number, offset: number): number {
    const p = this.checkPort(port);
    switch (offset) {
      case UART_RX: {
        if (p.dlab) return p.divisor & 0xff;
        let out = 0;
        if (p.head !== p.tail) {
          out = p.fifo[p.tail]!;
          p.count--;
          p.tail = (p.tail + 1) & (SERIAL_FIFO_SIZE - 1);
        }
        if (p.head === p.tail && p.regs[UART_IER]! & UART_IER_THRI) this.trigger();
        this.drainWire(port);
        return out;
      }
      case UART_IER:
        return p.dlab ? (p.divisor >> 8) & 0xff : p.regs[UART_IER]! & 0x0f;
      case UART_IIR: {
        const ier = p.regs[UART_IER]!;
        let v = 0;
        if (ier & UART_IER_RLSI && p.overrun) v |= UART_IIR_RLSI;
        if (ier & UART_IER_RDI && p.count >= p.trigger) v |= UART_IIR_RDI;
        if (ier & UART_IER_THRI && p.head === p.tail) v |= UART_IIR_THRI;
        if (ier & UART_IER_MSI && p.regs[UART_MCR]! & (UART_MCR_RTS | UART_MCR_DTR)) v |= UART_IIR_MSI;
        if (v === 0) v = UART_IIR_NO_INT;
        return v | 0xc0;
      }
      case UART_LCR:
      case UART_MCR:
        return p.regs[offset]!;
      case UART_LSR: {
        let lsr = 0;
        if (p.head !== p.tail) lsr |= UART_LSR_DR;
        if (p.overrun) lsr |= UART_LSR_OE;
        if (p.head === p.tail) lsr |= UART_LSR_TEMT | UART_LSR_THRE;
        return lsr;
      }
      case UART_MSR: {
        let msr = UART_MSR_DSR | UART_MSR_DDSR | UART_MSR_DCD;
        if (p.regs[UART_MCR]! & UART_MCR_AFE) {
          if (p.count < p.maxFifo) msr |= UART_MSR_CTS | UART_MSR_DCTS;
        } else {
          msr |= UART_MSR_CTS | UART_MSR_DCTS;
        }
        return msr;
      }
      case UART_SCR:
        return p.regs[UART_SCR]!;
      default:
        return 0;
    }
  }

  /**
   * Bytes arriving from the far end of the line (lab / workload side). They
   * enter the FIFO while the device runs and wait on the line while it is
   * stopped or the FIFO is full.
   */
  receive(port: number, bytes: Uint8Array | readonly number[]): void {
    this.checkPort(port);
    for (const b of bytes) this.wire[port]!.push(b & 0xff);
    this.drainWire(port);
  }

  /** Bytes waiting on the line. */
  lineDepth(port: number): number {
    this.checkPort(port);
    return this.wire[port]!.length;
  }

  private drainWire(port: number): void {
    if (this.runState === "stopped" || this.health === "failed") return;
    const p = this.ports[port]!;
    const line = this.wire[port]!;
    while (line.length > 0 && p.count < p.maxFifo) this.fifoPush(p, line.shift()!);
  }

  // ---- state ----

  private encodePort(p: Port, out: Uint8Array, at: number): void {
    out.set(p.regs, at);
    out.set(p.fifo, at + 8);
    out[at + 24] = p.head;
    out[at + 25] = p.tail;
    out[at + 26] = p.count;
    out[at + 27] = (p.dlab ? 1 : 0) | (p.overrun ? 2 : 0);
    out[at + 28] = p.divisor & 0xff;
    out[at + 29] = p.divisor >> 8;
    out[at + 30] = p.fcr;
    out[at + 31] = p.maxFifo;
    out[at + 32] = p.trigger;
  }

  private decodePort(b: Uint8Array, at: number): Port {
    const p = newPort();
    p.regs.set(b.subarray(at, at + 8));
    p.fifo.set(b.subarray(at + 8, at + 24));
    p.head = b[at + 24]!;
    p.tail = b[at + 25]!;
    p.count = b[at + 26]!;
    const flags = b[at + 27]!;
    p.dlab = (flags & 1) !== 0;
    p.overrun = (flags & 2) !== 0;
    p.divisor = b[at + 28]! | (b[at + 29]! << 8);
    p.fcr = b[at + 30]!;
    p.maxFifo = b[at + 31]!;
    p.trigger = b[at + 32]!;
    const ok =
      p.head < SERIAL_FIFO_SIZE &&
      p.tail < SERIAL_FIFO_SIZE &&
      p.count <= SERIAL_FIFO_SIZE &&
      (p.head - p.tail + SERIAL_FIFO_SIZE) % SERIAL_FIFO_SIZE === p.count % SERIAL_FIFO_SIZE &&
      (flags & ~3) === 0 &&
      (p.maxFifo === 1 || p.maxFifo === SERIAL_FIFO_SIZE) &&
      [1, 4, 8, 14].includes(p.trigger) &&
      b[at + 33] === 0 &&
      b[at + 34] === 0 &&
      b[at + 35] === 0;
    if (!ok) throw new DeviceMigrationError("corrupt", "serial port state out of range");
    return p;
  }

  /** @internal the 24-byte stream header */
  header(): Uint8Array {
    const out = new Uint8Array(SERIAL_HEADER_SIZE);
    const v = new DataView(out.buffer);
    v.setBigUint64(0, SERIAL_MAGIC, true);
    v.setUint32(8, SERIAL_MAJOR, true);
    v.setUint32(12, SERIAL_MINOR, true);
    v.setUint32(16, this.portCount, true);
    v.setUint32(20, 0, true);
    return out;
  }

  /** @internal header + ports */
  image(): Uint8Array {
    const out = new Uint8Array(this.stopCopyLength());
    out.set(this.header(), 0);
    this.ports.forEach((p, i) => this.encodePort(p, out, SERIAL_HEADER_SIZE + i * SERIAL_PORT_STATE_SIZE));
    return out;
  }

  /** @internal header check (bad-header on any mismatch, as mtty's EFAULT) */
  checkHeader(h: Uint8Array): void {
    const v = new DataView(h.buffer, h.byteOffset, SERIAL_HEADER_SIZE);
    if (v.getBigUint64(0, true) !== SERIAL_MAGIC || v.getUint32(8, true) !== SERIAL_MAJOR || v.getUint32(12, true) !== SERIAL_MINOR || v.getUint32(16, true) !== this.portCount || v.getUint32(20, true) !== 0) {
      throw new DeviceMigrationError("bad-header", "serial state header does not match this device");
    }
  }

  /** @internal decodes and installs the ports from a full image */
  loadImage(img: Uint8Array): void {
    this.checkHeader(img);
    const ports = Array.from({ length: this.portCount }, (_, i) => this.decodePort(img, SERIAL_HEADER_SIZE + i * SERIAL_PORT_STATE_SIZE));
    this.ports = ports;
  }

  stopCopyLength(): number {
    return SERIAL_HEADER_SIZE + this.portCount * SERIAL_PORT_STATE_SIZE;
  }

  protected createSaveStream(preCopy: boolean): SaveStream {
    return new SerialSaveStream(this, preCopy);
  }

  protected createResumeStream(): ResumeStream {
    return new SerialResumeStream(this);
  }

  save(): Uint8Array {
    return this.image();
  }

  load(bytes: Uint8Array): void {
    if (bytes.length !== this.stopCopyLength()) throw new DeviceMigrationError("corrupt", `serial snapshot of ${bytes.length} bytes`);
    this.closeSession();
    this.loadImage(bytes);
  }

  protected resetInternalState(): void {
    this.ports = Array.from({ length: this.portCount }, newPort);
    this.heldInterrupt = false;
    this.intxMasked = false;
  }

  describe(): Record<string, unknown> {
    return {
      kind: this.kind,
      name: this.name,
      runState: this.runState,
      health: this.health,
      irqMode: this.irqMode,
      interruptPending: this.heldInterrupt,
      ports: this.ports.map((p, i) => ({
        port: i,
        ier: p.regs[UART_IER],
        lcr: p.regs[UART_LCR],
        mcr: p.regs[UART_MCR],
        scr: p.regs[UART_SCR],
        divisor: p.divisor,
        fifo: Array.from({ length: p.count }, (_, k) => p.fifo[(p.tail + k) & (SERIAL_FIFO_SIZE - 1)]),
        overrun: p.overrun,
        line: this.wire[i]!.length,
      })),
      stateBytes: this.stopCopyLength(),
    };
  }
}

class SerialSaveStream implements SaveStream {
  mode: "pre-copy" | "stop-copy";
  closed = false;
  private image: Uint8Array;
  private pos = 0;

  constructor(
    private readonly dev: SerialMdev,
    preCopy: boolean,
  ) {
    this.mode = preCopy ? "pre-copy" : "stop-copy";
    this.image = preCopy ? dev.header() : dev.image();
  }

  private check(): void {
    if (this.closed) throw new DeviceMigrationError("session-closed", "save session has ended");
  }

  read(max: number): Uint8Array {
    this.check();
    const n = Math.max(0, Math.min(max, this.image.length - this.pos));
    const out = this.image.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  initialBytes(): number {
    return Math.max(0, SERIAL_HEADER_SIZE - this.pos);
  }

  dirtyBytes(): number {
    return 0;
  }

  remainingBytes(): number {
    return this.dev.stopCopyLength() - this.pos;
  }

  finishPreCopy(): void {
    this.check();
    if (this.mode !== "pre-copy") throw new DeviceMigrationError("invalid-state", "stream is already in stop-copy");
    if (this.dev.runState !== "stopped") throw new DeviceMigrationError("invalid-state", "stop the device before stop-copy");
    // The ports are appended behind the header already offered.
    this.image = this.dev.image();
    this.mode = "stop-copy";
  }

  get complete(): boolean {
    return this.mode === "stop-copy" && this.pos === this.image.length;
  }

  close(): void {
    this.closed = true;
  }
}

class SerialResumeStream implements ResumeStream {
  closed = false;
  bytesWritten = 0;
  private readonly buf: Uint8Array;
  private headerChecked = false;
  private broken: DeviceMigrationError | null = null;

  constructor(private readonly dev: SerialMdev) {
    this.buf = new Uint8Array(dev.stopCopyLength());
  }

  write(bytes: Uint8Array): number {
    if (this.closed) throw new DeviceMigrationError("session-closed", "resume session has ended");
    if (this.bytesWritten + bytes.length > this.buf.length) throw new DeviceMigrationError("too-big", `serial state is ${this.buf.length} bytes`);
    this.buf.set(bytes, this.bytesWritten);
    // like mtty: the bytes count even when the header they complete is refused, and the
    // header is checked once, when it becomes complete
    this.bytesWritten += bytes.length;
    if (!this.headerChecked && this.bytesWritten >= SERIAL_HEADER_SIZE) {
      this.headerChecked = true;
      try {
        this.dev.checkHeader(this.buf);
      } catch (e) {
        if (e instanceof DeviceMigrationError) this.broken = e;
        throw e;
      }
    }
    return bytes.length;
  }

  finish(): void {
    if (this.closed) throw new DeviceMigrationError("session-closed", "resume session has ended");
    // completeness first: mtty checks only that a whole state's worth of bytes arrived
    if (this.bytesWritten < this.buf.length) throw new DeviceMigrationError("incomplete", `${this.bytesWritten} of ${this.buf.length} state bytes received`);
    if (this.broken) throw this.broken;
    this.dev.loadImage(this.buf);
    this.close();
  }

  close(): void {
    this.closed = true;
  }
}
