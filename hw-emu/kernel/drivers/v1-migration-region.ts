/**
 * The v1 migration protocol (Linux 5.8 to 5.17): a device-specific region whose
 * first 32 bytes are struct vfio_device_migration_info, followed by a data
 * window. Userspace drives the device by writing device_state bits
 * (_RUNNING, _SAVING, _RESUMING) and moves state through the window,
 * reading pending_bytes / data_offset / data_size in a fixed order.
 *
 * Where the v1 text left behaviour open, this emulation chooses, and the
 * choices are observable:
 * - Clearing _RUNNING stops everything at once: DMA, interrupts and
 *   peer-to-peer. v1 has no state that stops only outgoing peer-to-peer DMA,
 *   so a device stopped first can still be written by a peer that is running
 *   (the hazard RUNNING_P2P was added for); this model refuses such writes and
 *   records them as lost.
 * - Reserved device_state bits (3..31) must be written back as read; changing
 *   them is EINVAL.
 * - _RUNNING|_SAVING on a device without pre-copy data opens a session whose
 *   pre-copy phase has nothing pending (pending_bytes 0).
 * - A resume stream ends when userspace leaves _RESUMING; the device then
 *   validates and loads it. Incomplete or invalid data fails that write with
 *   EINVAL and leaves the error state (_SAVING|_RESUMING), which only a reset clears.
 * - Region fields need natural width and alignment; other accesses are EINVAL.
 *   The data window may be accessed at any width.
 */
import { Errno, VFIO_DEVICE_STATE_MASK, VFIO_DEVICE_STATE_V1, v1StateIsError, v1StateValid, vfio_device_migration_info } from "../../uapi/index.js";
import { DeviceMigrationError, type MigratableDevice, type ResumeStream, type SaveStream } from "../../hw/devices/migration.js";

const { RUNNING, SAVING, RESUMING } = VFIO_DEVICE_STATE_V1.bits;
const ERROR_STATE = SAVING | RESUMING;
const HEADER = vfio_device_migration_info.size;
/** the data window starts on its own page so it could be mmapped */
export const V1_DATA_OFFSET = 4096;
export const V1_DATA_SIZE = 64 * 1024;
export const V1_REGION_SIZE = V1_DATA_OFFSET + V1_DATA_SIZE;

const FIELD = Object.fromEntries(vfio_device_migration_info.fields.map((f) => [f.name, f])) as Record<string, { offset: number; size: number }>;

export class V1MigrationRegion {
  private state = RUNNING;
  private save: SaveStream | null = null;
  private resume: ResumeStream | null = null;
  private readonly window = new Uint8Array(V1_DATA_SIZE);
  /** bytes of the current save chunk in the window, and whether the next pending_bytes read acknowledges it */
  private chunk = 0;
  private chunkPrepared = false;
  /** every device_state write, for the history notebook */
  readonly transitions: { from: number; to: number; ok: boolean }[] = [];

  constructor(private readonly device: MigratableDevice) {}

  get deviceState(): number {
    return this.state;
  }

  read(offset: number, length: number): Uint8Array {
    if (offset >= V1_DATA_OFFSET) {
      if (offset + length > V1_REGION_SIZE) throw new Errno("EINVAL", "read past the migration region", "pread");
      return this.window.slice(offset - V1_DATA_OFFSET, offset - V1_DATA_OFFSET + length);
    }
    const field = this.field(offset, length, "pread");
    const out = new Uint8Array(length);
    const view = new DataView(out.buffer);
    switch (field) {
      case "device_state":
        view.setUint32(0, this.state, true);
        break;
      case "reserved":
        break;
      case "pending_bytes":
        view.setBigUint64(0, this.pendingBytes(), true);
        break;
      case "data_offset":
        this.prepareChunk();
        view.setBigUint64(0, BigInt(V1_DATA_OFFSET), true);
        break;
      case "data_size":
        view.setBigUint64(0, BigInt(this.save ? this.chunk : 0), true);
        break;
    }
    return out;
  }

  write(offset: number, bytes: Uint8Array): void {
    if (offset >= V1_DATA_OFFSET) {
      if (offset + bytes.byteLength > V1_REGION_SIZE) throw new Errno("EINVAL", "write past the migration region", "pwrite");
      if (!this.resume) throw new Errno("EINVAL", "the data window is written only while _RESUMING", "pwrite");
      this.window.set(bytes, offset - V1_DATA_OFFSET);
      return;
    }
    const field = this.field(offset, bytes.byteLength, "pwrite");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (field === "device_state") return this.setState(view.getUint32(0, true));
    if (field === "data_size") return this.consume(Number(view.getBigUint64(0, true)));
    throw new Errno("EINVAL", `${field} is read-only`, "pwrite");
  }

  private field(offset: number, length: number, syscall: string): string {
    const entry = Object.entries(FIELD).find(([, f]) => f.offset === offset);
    if (!entry || entry[1].size !== length || offset + length > HEADER) {
      throw new Errno("EINVAL", `migration region fields need their natural width and alignment (offset ${offset}, ${length} bytes)`, syscall);
    }
    return entry[0];
  }

  private pendingBytes(): bigint {
    const s = this.save;
    if (!s) return 0n;
    // reading pending_bytes acknowledges the chunk just read and starts a new iteration
    this.chunkPrepared = false;
    this.chunk = 0;
    return BigInt(s.mode === "pre-copy" ? s.initialBytes() + s.dirtyBytes() : s.remainingBytes());
  }

  private prepareChunk(): void {
    if (!this.save || this.chunkPrepared) return;
    const data = this.save.read(V1_DATA_SIZE);
    this.window.set(data);
    this.chunk = data.byteLength;
    this.chunkPrepared = true;
  }

  private consume(size: number): void {
    if (!this.resume) throw new Errno("EINVAL", "data_size is written only while _RESUMING", "pwrite");
    if (size > V1_DATA_SIZE) throw new Errno("EINVAL", `data_size ${size} exceeds the ${V1_DATA_SIZE}-byte window`, "pwrite");
    try {
      this.resume.write(this.window.slice(0, size));
    } catch (e) {
      this.fail();
      throw new Errno("EINVAL", e instanceof Error ? e.message : String(e), "pwrite");
    }
  }

  private fail(): void {
    this.save?.close();
    this.resume?.close();
    this.save = null;
    this.resume = null;
    this.state = (this.state & ~VFIO_DEVICE_STATE_MASK) | ERROR_STATE;
  }

  private setState(next: number): void {
    const from = this.state;
    try {
      this.transition(from, next);
      this.transitions.push({ from, to: next, ok: true });
    } catch (e) {
      this.transitions.push({ from, to: next, ok: false });
      throw e;
    }
  }

  private transition(from: number, next: number): void {
    const syscall = "pwrite(device_state)";
    if ((next & ~VFIO_DEVICE_STATE_MASK) !== (from & ~VFIO_DEVICE_STATE_MASK)) throw new Errno("EINVAL", "reserved device_state bits must be written back unchanged", syscall);
    if (v1StateIsError(from)) throw new Errno("EINVAL", "the device is in the error state; only a reset recovers it", syscall);
    if (!v1StateValid(next) || v1StateIsError(next)) throw new Errno("EINVAL", `device_state 0x${next.toString(16)} is not a valid v1 state`, syscall);
    const was = from & VFIO_DEVICE_STATE_MASK;
    const to = next & VFIO_DEVICE_STATE_MASK;
    if (was === to) return;
    const d = this.device;
    try {
      // leaving _RESUMING: the stream is complete; validate and load it
      if (was === RESUMING) {
        const r = this.resume!;
        this.resume = null;
        try {
          r.finish();
        } finally {
          r.close();
        }
      }
      if (to === RESUMING) {
        if (was & SAVING) throw new Errno("EINVAL", "cannot resume while saving", syscall);
        d.stop();
        this.resume = d.startResume();
      } else if (to & SAVING) {
        if (to & RUNNING) {
          if (was !== RUNNING) throw new Errno("EINVAL", "pre-copy (_RUNNING|_SAVING) starts from _RUNNING", syscall);
          // a device without pre-copy data has nothing pending until it stops
          this.save = d.features.preCopy ? d.startSave({ preCopy: true }) : null;
        } else {
          d.stop();
          if (this.save?.mode === "pre-copy") this.save.finishPreCopy();
          else this.save = d.startSave({ preCopy: false });
        }
        this.chunkPrepared = false;
      } else {
        this.save?.close();
        this.save = null;
        if (to & RUNNING) d.run();
        else d.stop();
      }
      this.state = (from & ~VFIO_DEVICE_STATE_MASK) | to;
    } catch (e) {
      if (e instanceof Errno) {
        if (was === RESUMING) this.fail();
        throw e;
      }
      if (e instanceof DeviceMigrationError) {
        if (was === RESUMING || d.health === "failed") this.fail();
        throw new Errno("EINVAL", e.message, syscall);
      }
      throw e;
    }
  }

  /** device reset: back to _RUNNING, sessions dropped */
  reset(): void {
    this.save?.close();
    this.resume?.close();
    this.save = null;
    this.resume = null;
    this.chunk = 0;
    this.chunkPrepared = false;
    this.state = RUNNING;
  }
}
