/**
 * An accelerator virtual function, modelled on the behaviour of the
 * HiSilicon crypto/compression VFs: one submission queue in guest memory,
 * each job reads a source buffer by DMA and writes a result by DMA; no
 * peer-to-peer, no device-side dirty logging (guest memory tracking relies
 * on the IOMMU's dirty bits), a device state of a couple of hundred bytes.
 * STOP_COPY, optionally PRE_COPY carrying only the compatibility ("match")
 * block, as that driver does.
 *
 * BAR0 (16 KiB, 64-bit):
 *   0x00 ID (ro)  0x04 STATUS (ro)  0x08 CTRL (bit0 enable)  0x0c KEY (rw, for op 1)
 *   0x10 SQ_BASE_LO  0x14 SQ_BASE_HI  0x18 SQ_SIZE  0x1c SQ_TAIL (doorbell)  0x20 SQ_HEAD (ro)
 *   0x24 IRQ_ENABLE (bit0 completion -> MSI vector 0, bit1 error -> MSI vector 1)
 *   0x28 COMPLETED  0x2c ERRORS  0x30 BYTES_LO  0x34 BYTES_HI (ro)
 *   0x40..0x7f: 16 context registers (rw)
 * Job descriptors, 32 bytes: {u64 src, u64 dst, u32 len, u16 op, u16 status,
 * u32 result, u32 0}. op 0 = CRC32 of the source (result in the descriptor
 * and, if dst != 0, as a u32 at dst); op 1 = copy source XOR KEY bytes to dst.
 * Status: 1 done, 2 error.
 *
 * State stream (176 bytes): a 40-byte match block {magic, version, vendor,
 * device, max queue depth, supported ops, queue count, CRC32}, then the
 * registers and context, then CRC32 of the register part.
 */
import { crc32 } from "../../sim/digest.js";
import type { TimeSource } from "../../sim/clock.js";
import type { DmaEngine } from "../dma.js";
import { MsiController } from "../msi.js";
import type { AccessSize } from "../pci/config-space.js";
import { PciFunction } from "../pci/function.js";
import type { InterruptLog } from "../pci/interrupt-log.js";
import type { VfContext } from "../sriov.js";
import { DeviceModel, type DeviceTraits } from "./device-base.js";
import { DeviceMigrationError, type MigrationFeatures, type ResumeStream, type RunState, type SaveStream } from "./migration.js";

export const ACCEL_VENDOR_ID = 0x1234;
export const ACCEL_PF_DEVICE_ID = 0x7e20;
export const ACCEL_VF_DEVICE_ID = 0x7e21;
export const ACCEL_BAR0_SIZE = 0x4000;
export const ACCEL_VF_BARS = { 0: { kind: "mem64" as const, size: ACCEL_BAR0_SIZE } };

export const ACCEL_REGS = {
  ID: 0x00,
  STATUS: 0x04,
  CTRL: 0x08,
  KEY: 0x0c,
  SQ_BASE_LO: 0x10,
  SQ_BASE_HI: 0x14,
  SQ_SIZE: 0x18,
  SQ_TAIL: 0x1c,
  SQ_HEAD: 0x20,
  IRQ_ENABLE: 0x24,
  COMPLETED: 0x28,
  ERRORS: 0x2c,
  BYTES_LO: 0x30,
  BYTES_HI: 0x34,
  CONTEXT: 0x40,
  CONTEXT_WORDS: 16,
} as const;

export const ACCEL_ID = 0x31434341; // the bytes read "ACC1"
export const ACCEL_DESC_SIZE = 32;
export const ACCEL_OP_CRC32 = 0;
export const ACCEL_OP_XOR = 1;
export const ACCEL_DESC_DONE = 1;
export const ACCEL_DESC_ERROR = 2;
export const ACCEL_MAX_JOB = 1 << 20;
export const ACCEL_MAX_QUEUE = 4096;
/** MSI vectors: completion and error */
export const ACCEL_VECTOR_DONE = 0;
export const ACCEL_VECTOR_ERROR = 1;

export const ACCEL_MATCH_SIZE = 40;
export const ACCEL_STATE_SIZE = 176;
const MATCH_MAGIC = 0x4d434341; // "ACCM"
const MATCH_VERSION = 1;
const SUPPORTED_OPS = (1 << ACCEL_OP_CRC32) | (1 << ACCEL_OP_XOR);

export interface AccelVfOptions {
  name?: string;
  vf?: VfContext;
  dma?: DmaEngine | null;
  time?: TimeSource | null;
  interruptLog?: InterruptLog;
  /** offer PRE_COPY with the match block (default true; false = STOP_COPY only) */
  preCopy?: boolean;
}

interface AccelRegs {
  ctrl: number;
  key: number;
  sqBase: number;
  sqSize: number;
  sqHead: number;
  sqTail: number;
  irqEnable: number;
  completed: number;
  errors: number;
  bytes: number;
  lastResult: number;
  lastOp: number;
  seq: number;
  context: Uint32Array;
}

function emptyRegs(): AccelRegs {
  return {
    ctrl: 0,
    key: 0,
    sqBase: 0,
    sqSize: 0,
    sqHead: 0,
    sqTail: 0,
    irqEnable: 0,
    completed: 0,
    errors: 0,
    bytes: 0,
    lastResult: 0,
    lastOp: 0,
    seq: 0,
    context: new Uint32Array(ACCEL_REGS.CONTEXT_WORDS),
  };
}

export class AccelVf extends DeviceModel {
  readonly kind = "accel-vf";
  readonly name: string;
  readonly fn: PciFunction;
  readonly features: MigrationFeatures;
  readonly preCopyEmptyRead = "zero" as const;
  readonly traits: DeviceTraits = { dma: true, p2pInitiator: false, p2pTarget: false };
  readonly msi: MsiController;
  private regs: AccelRegs = emptyRegs();
  private busy = false;

  constructor(opts: AccelVfOptions = {}) {
    super({ dma: opts.dma ?? null, time: opts.time ?? null });
    this.name = opts.name ?? (opts.vf ? `accel-vf${opts.vf.index}` : "accel-vf");
    this.features = { stopCopy: true, p2p: false, preCopy: opts.preCopy ?? true, dmaLogging: false };
    this.fn = new PciFunction({
      name: this.name,
      vendorId: opts.vf?.vendorId ?? ACCEL_VENDOR_ID,
      deviceId: opts.vf?.deviceId ?? ACCEL_VF_DEVICE_ID,
      classCode: 0x120000, // processing accelerator
      vf: opts.vf?.backing,
      bars: { 0: { ...ACCEL_VF_BARS[0], handler: { read: (o, s) => this.mmioRead(o, s), write: (o, s, v) => this.mmioWrite(o, s, v) } } },
    });
    this.msi = new MsiController(this.fn, { vectors: 2, log: opts.interruptLog, time: opts.time ?? undefined });
    // Integrated endpoint without P2P: peer writes are refused outright.
    this.fn.setPeerWriteFilter(() => {
      this.counters.peerWritesRefused++;
      return false;
    });
    this.installResetHook();
  }

  // ---- registers ----

  private regRead(offset: number): number {
    const r = this.regs;
    switch (offset) {
      case ACCEL_REGS.ID:
        return ACCEL_ID;
      case ACCEL_REGS.STATUS:
        return this.runState === "stopped" ? 4 : 1;
      case ACCEL_REGS.CTRL:
        return r.ctrl;
      case ACCEL_REGS.KEY:
        return r.key;
      case ACCEL_REGS.SQ_BASE_LO:
        return r.sqBase % 2 ** 32;
      case ACCEL_REGS.SQ_BASE_HI:
        return Math.floor(r.sqBase / 2 ** 32);
      case ACCEL_REGS.SQ_SIZE:
        return r.sqSize;
      case ACCEL_REGS.SQ_TAIL:
        return r.sqTail;
      case ACCEL_REGS.SQ_HEAD:
        return r.sqHead;
      case ACCEL_REGS.IRQ_ENABLE:
        return r.irqEnable;
      case ACCEL_REGS.COMPLETED:
        return r.completed;
      case ACCEL_REGS.ERRORS:
        return r.errors;
      case ACCEL_REGS.BYTES_LO:
        return r.bytes % 2 ** 32;
      case ACCEL_REGS.BYTES_HI:
        return Math.floor(r.bytes / 2 ** 32);
    }
    if (offset >= ACCEL_REGS.CONTEXT && offset < ACCEL_REGS.CONTEXT + 4 * ACCEL_REGS.CONTEXT_WORDS) {
      return r.context[(offset - ACCEL_REGS.CONTEXT) >> 2]!;
    }
    return 0;
  }

  private mmioRead(offset: number, size: AccessSize): number {
    const word = this.regRead(offset & ~3) >>> 0;
    if (size === 4) return word;
    return (word >>> ((offset & 3) * 8)) & (size === 2 ? 0xffff : 0xff);
  }

  private mmioWrite(offset: number, size: AccessSize, value: number): void {
    if (size !== 4) return;
    const r = this.regs;
    const v = value >>> 0;
    switch (offset) {
      case ACCEL_REGS.CTRL:
        r.ctrl = v & 1;
        this.pump();
        return;
      case ACCEL_REGS.KEY:
        r.key = v;
        return;
      case ACCEL_REGS.SQ_BASE_LO:
        r.sqBase = Math.floor(r.sqBase / 2 ** 32) * 2 ** 32 + (v & ~0x1f);
        return;
      case ACCEL_REGS.SQ_BASE_HI:
        r.sqBase = (v & 0x1fffff) * 2 ** 32 + (r.sqBase % 2 ** 32);
        return;
      case ACCEL_REGS.SQ_SIZE:
        r.sqSize = v >= 1 && v <= ACCEL_MAX_QUEUE && (v & (v - 1)) === 0 ? v : 0;
        r.sqHead = 0;
        r.sqTail = 0;
        return;
      case ACCEL_REGS.SQ_TAIL:
        if (r.sqSize) r.sqTail = v & (r.sqSize - 1);
        this.pump();
        return;
      case ACCEL_REGS.IRQ_ENABLE:
        r.irqEnable = v & 3;
        return;
    }
    if (offset >= ACCEL_REGS.CONTEXT && offset < ACCEL_REGS.CONTEXT + 4 * ACCEL_REGS.CONTEXT_WORDS) {
      r.context[(offset - ACCEL_REGS.CONTEXT) >> 2] = v;
    }
  }

  // ---- job processing ----

  private pump(): void {
    const r = this.regs;
    if (this.busy || !this.mayProcess() || !(r.ctrl & 1) || !r.sqSize) return;
    this.busy = true;
    let done = 0;
    let failed = 0;
    try {
      while (r.sqHead !== r.sqTail && this.mayProcess()) {
        const descAddr = r.sqBase + r.sqHead * ACCEL_DESC_SIZE;
        const d = this.dmaRead(descAddr, ACCEL_DESC_SIZE);
        if (d.status !== "ok") {
          r.errors = (r.errors + 1) >>> 0;
          failed++;
          break;
        }
        const dv = new DataView(d.data.buffer);
        const src = Number(dv.getBigUint64(0, true));
        const dst = Number(dv.getBigUint64(8, true));
        const len = dv.getUint32(16, true);
        const op = dv.getUint16(20, true);
        const { status, result } = this.runJob(op, src, dst, len);
        const wb = new Uint8Array(6);
        const wv = new DataView(wb.buffer);
        wv.setUint16(0, status, true);
        wv.setUint32(2, result, true);
        this.dmaWrite(descAddr + 22, wb);
        r.sqHead = (r.sqHead + 1) & (r.sqSize - 1);
        r.seq = (r.seq + 1) >>> 0;
        r.lastOp = op;
        r.lastResult = result;
        if (status & ACCEL_DESC_ERROR) {
          r.errors = (r.errors + 1) >>> 0;
          failed++;
        } else {
          r.completed = (r.completed + 1) >>> 0;
          r.bytes += len;
          done++;
        }
      }
    } finally {
      this.busy = false;
    }
    if (done > 0 && r.irqEnable & 1) this.msi.fire(ACCEL_VECTOR_DONE);
    if (failed > 0 && r.irqEnable & 2) this.msi.fire(ACCEL_VECTOR_ERROR);
  }

  private runJob(op: number, src: number, dst: number, len: number): { status: number; result: number } {
    if (len > ACCEL_MAX_JOB || (op !== ACCEL_OP_CRC32 && op !== ACCEL_OP_XOR)) return { status: ACCEL_DESC_DONE | ACCEL_DESC_ERROR, result: 0 };
    const input = this.dmaRead(src, len);
    if (input.status !== "ok") return { status: ACCEL_DESC_DONE | ACCEL_DESC_ERROR, result: 0 };
    if (op === ACCEL_OP_CRC32) {
      const result = crc32(input.data);
      if (dst !== 0) {
        const out = new Uint8Array(4);
        new DataView(out.buffer).setUint32(0, result, true);
        if (this.dmaWrite(dst, out) !== "ok") return { status: ACCEL_DESC_DONE | ACCEL_DESC_ERROR, result };
      }
      return { status: ACCEL_DESC_DONE, result };
    }
    const key = this.regs.key;
    const out = input.data;
    for (let i = 0; i < out.length; i++) out[i] = out[i]! ^ ((key >>> ((i & 3) * 8)) & 0xff);
    const st = this.dmaWrite(dst, out);
    return { status: ACCEL_DESC_DONE | (st === "ok" ? 0 : ACCEL_DESC_ERROR), result: crc32(out) };
  }

  protected onRunStateChange(_prev: RunState, next: RunState): void {
    this.msi.setHeld(next === "stopped");
    if (next !== "stopped") this.pump();
  }

  // ---- state ----

  /** @internal the compatibility block both sides must agree on */
  matchBlock(): Uint8Array {
    const out = new Uint8Array(ACCEL_MATCH_SIZE);
    const v = new DataView(out.buffer);
    v.setUint32(0, MATCH_MAGIC, true);
    v.setUint32(4, MATCH_VERSION, true);
    v.setUint16(8, this.fn.vendorId, true);
    v.setUint16(10, this.fn.deviceId, true);
    v.setUint32(12, ACCEL_MAX_QUEUE, true);
    v.setUint32(16, SUPPORTED_OPS, true);
    v.setUint32(20, 1, true); // queue pairs
    v.setUint32(36, crc32(out.subarray(0, 36)), true);
    return out;
  }

  /** @internal the whole 176-byte state image */
  stateImage(): Uint8Array {
    const out = new Uint8Array(ACCEL_STATE_SIZE);
    out.set(this.matchBlock(), 0);
    const v = new DataView(out.buffer);
    const r = this.regs;
    const words = [
      r.ctrl,
      r.key,
      r.sqBase % 2 ** 32,
      Math.floor(r.sqBase / 2 ** 32),
      r.sqSize,
      r.sqHead,
      r.sqTail,
      r.irqEnable,
      r.completed,
      r.errors,
      r.bytes % 2 ** 32,
      Math.floor(r.bytes / 2 ** 32),
      r.lastResult,
      r.lastOp,
      r.seq,
    ];
    let o = ACCEL_MATCH_SIZE;
    for (const w of words) {
      v.setUint32(o, w >>> 0, true);
      o += 4;
    }
    for (const w of r.context) {
      v.setUint32(o, w, true);
      o += 4;
    }
    v.setUint32(ACCEL_STATE_SIZE - 4, crc32(out.subarray(ACCEL_MATCH_SIZE, ACCEL_STATE_SIZE - 4)), true);
    return out;
  }

  /** @internal checks the match block (bad-header / incompatible) */
  checkMatch(block: Uint8Array): void {
    const v = new DataView(block.buffer, block.byteOffset, ACCEL_MATCH_SIZE);
    if (v.getUint32(0, true) !== MATCH_MAGIC || v.getUint32(36, true) !== crc32(block.subarray(0, 36))) {
      throw new DeviceMigrationError("bad-header", "not an accelerator state stream");
    }
    const mine = new DataView(this.matchBlock().buffer);
    for (const [off, what] of [[4, "version"], [8, "vendor/device"], [12, "queue depth"], [16, "operations"], [20, "queue count"]] as const) {
      if (v.getUint32(off, true) !== mine.getUint32(off, true)) throw new DeviceMigrationError("incompatible", `match block ${what} differs`);
    }
  }

  /** @internal decodes a full image (after checkMatch) */
  decodeImage(img: Uint8Array): AccelRegs {
    const v = new DataView(img.buffer, img.byteOffset, ACCEL_STATE_SIZE);
    if (v.getUint32(ACCEL_STATE_SIZE - 4, true) !== crc32(img.subarray(ACCEL_MATCH_SIZE, ACCEL_STATE_SIZE - 4))) {
      throw new DeviceMigrationError("corrupt", "accelerator state CRC mismatch");
    }
    let o = ACCEL_MATCH_SIZE;
    const get = () => {
      const x = v.getUint32(o, true);
      o += 4;
      return x;
    };
    const r = emptyRegs();
    r.ctrl = get();
    r.key = get();
    r.sqBase = get() + get() * 2 ** 32;
    r.sqSize = get();
    r.sqHead = get();
    r.sqTail = get();
    r.irqEnable = get();
    r.completed = get();
    r.errors = get();
    r.bytes = get() + get() * 2 ** 32;
    r.lastResult = get();
    r.lastOp = get();
    r.seq = get();
    for (let i = 0; i < ACCEL_REGS.CONTEXT_WORDS; i++) r.context[i] = get();
    const sizeOk = r.sqSize === 0 ? r.sqHead === 0 && r.sqTail === 0 : (r.sqSize & (r.sqSize - 1)) === 0 && r.sqSize <= ACCEL_MAX_QUEUE && r.sqHead < r.sqSize && r.sqTail < r.sqSize;
    if (!sizeOk) throw new DeviceMigrationError("corrupt", "queue registers out of range");
    return r;
  }

  /** @internal */
  applyRegs(r: AccelRegs): void {
    this.regs = r;
  }

  stopCopyLength(): number {
    return ACCEL_STATE_SIZE;
  }

  protected createSaveStream(preCopy: boolean): SaveStream {
    return new AccelSaveStream(this, preCopy);
  }

  protected createResumeStream(): ResumeStream {
    return new AccelResumeStream(this);
  }

  save(): Uint8Array {
    return this.stateImage();
  }

  load(bytes: Uint8Array): void {
    if (bytes.length !== ACCEL_STATE_SIZE) throw new DeviceMigrationError("corrupt", `accelerator snapshot of ${bytes.length} bytes`);
    this.checkMatch(bytes.subarray(0, ACCEL_MATCH_SIZE));
    const r = this.decodeImage(bytes);
    this.closeSession();
    this.regs = r;
    this.pump();
  }

  protected resetInternalState(): void {
    this.regs = emptyRegs();
  }

  describe(): Record<string, unknown> {
    const r = this.regs;
    return {
      kind: this.kind,
      name: this.name,
      runState: this.runState,
      health: this.health,
      enabled: (r.ctrl & 1) === 1,
      queue: { base: r.sqBase, size: r.sqSize, head: r.sqHead, tail: r.sqTail },
      completed: r.completed,
      errors: r.errors,
      bytes: r.bytes,
      lastResult: r.lastResult,
      key: r.key,
      stateBytes: ACCEL_STATE_SIZE,
      counters: { ...this.counters },
    };
  }
}

class AccelSaveStream implements SaveStream {
  mode: "pre-copy" | "stop-copy";
  closed = false;
  private image: Uint8Array;
  private pos = 0;

  constructor(
    private readonly dev: AccelVf,
    preCopy: boolean,
  ) {
    this.mode = preCopy ? "pre-copy" : "stop-copy";
    // Pre-copy only offers the match block; the rest is taken once the device has stopped.
    this.image = preCopy ? dev.matchBlock() : dev.stateImage();
  }

  private check(): void {
    if (this.closed) throw new DeviceMigrationError("session-closed", "save session has ended");
  }

  read(max: number): Uint8Array {
    this.check();
    const limit = this.mode === "pre-copy" ? ACCEL_MATCH_SIZE : ACCEL_STATE_SIZE;
    const n = Math.max(0, Math.min(max, limit - this.pos));
    const out = this.image.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  initialBytes(): number {
    return Math.max(0, ACCEL_MATCH_SIZE - this.pos);
  }

  dirtyBytes(): number {
    return 0;
  }

  remainingBytes(): number {
    return ACCEL_STATE_SIZE - this.pos;
  }

  finishPreCopy(): void {
    this.check();
    if (this.mode !== "pre-copy") throw new DeviceMigrationError("invalid-state", "stream is already in stop-copy");
    if (this.dev.runState !== "stopped") throw new DeviceMigrationError("invalid-state", "stop the device before stop-copy");
    this.image = this.dev.stateImage();
    this.mode = "stop-copy";
  }

  get complete(): boolean {
    return this.mode === "stop-copy" && this.pos === ACCEL_STATE_SIZE;
  }

  close(): void {
    this.closed = true;
  }
}

class AccelResumeStream implements ResumeStream {
  closed = false;
  bytesWritten = 0;
  private readonly buf = new Uint8Array(ACCEL_STATE_SIZE);
  private matched = false;
  private broken: DeviceMigrationError | null = null;

  constructor(private readonly dev: AccelVf) {}

  write(bytes: Uint8Array): number {
    if (this.closed) throw new DeviceMigrationError("session-closed", "resume session has ended");
    if (this.broken) throw this.broken;
    if (this.bytesWritten + bytes.length > ACCEL_STATE_SIZE) {
      throw new DeviceMigrationError("too-big", `accelerator state is ${ACCEL_STATE_SIZE} bytes`);
    }
    this.buf.set(bytes, this.bytesWritten);
    if (!this.matched && this.bytesWritten + bytes.length >= ACCEL_MATCH_SIZE) {
      try {
        this.dev.checkMatch(this.buf.subarray(0, ACCEL_MATCH_SIZE));
      } catch (e) {
        if (e instanceof DeviceMigrationError) this.broken = e;
        throw e;
      }
      this.matched = true;
    }
    this.bytesWritten += bytes.length;
    return bytes.length;
  }

  finish(): void {
    if (this.closed) throw new DeviceMigrationError("session-closed", "resume session has ended");
    if (this.broken) throw this.broken;
    if (this.bytesWritten < ACCEL_STATE_SIZE) {
      throw new DeviceMigrationError("incomplete", `${this.bytesWritten} of ${ACCEL_STATE_SIZE} state bytes received`);
    }
    this.dev.applyRegs(this.dev.decodeImage(this.buf));
    this.close();
  }

  close(): void {
    this.closed = true;
  }
}
