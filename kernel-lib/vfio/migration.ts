/**
 * Migration v2 on a device fd: the flags, the state machine, the data fds.
 * `set()` reports the path the kernel walks (the VFIO core's next-state table,
 * which is the same on every kernel and in the emulator).
 */
import {
  MIG_STATE_NAMES,
  VFIO_DEVICE_STATE,
  VFIO_MIGRATION,
  vfio_device_feature_mig_data_size,
  vfio_device_feature_mig_state,
  vfio_device_feature_migration,
  vfio_precopy_info,
  type MigStateName,
  type Syscalls,
} from "../../hw-emu/uapi/index.js";
import { pathTo } from "../../hw-emu/uapi/migration-fsm.js";
import { VfioError, sys } from "./errors.js";
import { featureCall } from "./feature.js";
import { structIoctl } from "./ioctl.js";

interface HasFd {
  readonly sys: Syscalls;
  readonly fd: number;
}

/** A SET that failed: where the device really is now (a GET after the failure), and the path that was planned. */
export class MigrationError extends VfioError {
  constructor(
    cause: VfioError,
    readonly requested: MigStateName,
    readonly reached: MigStateName,
    readonly planned: readonly MigStateName[],
  ) {
    super(cause.call, cause.code, cause.errno, `${cause.meaning}; the device is now ${reached}`, cause.detail);
  }
}

export interface SetResult {
  /** states walked, both ends included */
  path: MigStateName[];
  /** the save or resume stream, when the request started a new data session */
  data: SaveStream | ResumeStream | null;
}

export class Migration {
  private constructor(
    private readonly dev: HasFd,
    /** VFIO_MIGRATION_* bits */
    readonly flags: number,
  ) {}

  /** GET MIGRATION; a device without a migration driver (ENOTTY) has none. */
  static probe(dev: HasFd): Migration | null {
    try {
      const p = featureCall(dev.sys, dev.fd, "MIGRATION", "get", new Uint8Array(8));
      return new Migration(dev, Number(vfio_device_feature_migration.decode(p).flags));
    } catch (e) {
      if (e instanceof VfioError && (e.code === "ENOTTY" || e.code === "EINVAL")) return null;
      throw e;
    }
  }

  get features(): { stopCopy: boolean; p2p: boolean; preCopy: boolean } {
    return {
      stopCopy: (this.flags & VFIO_MIGRATION.bits.STOP_COPY) !== 0,
      p2p: (this.flags & VFIO_MIGRATION.bits.P2P) !== 0,
      preCopy: (this.flags & VFIO_MIGRATION.bits.PRE_COPY) !== 0,
    };
  }

  state(): MigStateName {
    const p = featureCall(this.dev.sys, this.dev.fd, "MIG_DEVICE_STATE", "get", new Uint8Array(8));
    return MIG_STATE_NAMES[vfio_device_feature_mig_state.decode(p).device_state] ?? "ERROR";
  }

  /** SET MIG_DEVICE_STATE. On failure throws MigrationError carrying the state a GET then reports. */
  set(target: MigStateName): SetResult {
    const before = this.state();
    const planned = pathTo(this.flags, before, target);
    const payload = vfio_device_feature_mig_state.encode({ device_state: VFIO_DEVICE_STATE.values[target], data_fd: -1 });
    let out: Uint8Array;
    try {
      out = featureCall(this.dev.sys, this.dev.fd, "MIG_DEVICE_STATE", "set", payload);
    } catch (e) {
      if (e instanceof VfioError) throw new MigrationError(e, target, this.state(), planned.ok ? planned.path : [before]);
      throw e;
    }
    const fd = vfio_device_feature_mig_state.decode(out).data_fd;
    const path = planned.ok ? planned.path : [before, target];
    let data: SaveStream | ResumeStream | null = null;
    if (fd >= 0) data = target === "RESUMING" ? new ResumeStream(this.dev.sys, fd) : new SaveStream(this.dev.sys, fd);
    return { path, data };
  }

  /** MIG_DATA_SIZE: the estimated STOP_COPY length */
  dataSize(): bigint {
    const p = featureCall(this.dev.sys, this.dev.fd, "MIG_DATA_SIZE", "get", new Uint8Array(8));
    return vfio_device_feature_mig_data_size.decode(p).stop_copy_length;
  }
}

/** The save fd: read until end of stream; in pre-copy a temporary end is reported as null. */
export class SaveStream {
  /** bytes read so far */
  position = 0;

  constructor(
    readonly sys: Syscalls,
    readonly fd: number,
  ) {}

  /**
   * Up to `max` bytes. Returns an empty array at the end of the stream (STOP_COPY)
   * and null at a temporary end of pre-copy data (ENOMSG, or 0 from drivers that
   * answer so in PRE_COPY — the caller knows the device state and treats both alike).
   */
  read(max = 1 << 20): Uint8Array | null {
    const buf = new Uint8Array(max);
    let n: number;
    try {
      n = sys("read", () => this.sys.read(this.fd, buf));
    } catch (e) {
      if (e instanceof VfioError && e.code === "ENOMSG") return null;
      throw e;
    }
    this.position += n;
    return buf.subarray(0, n);
  }

  /** Everything available now, until an end (temporary or permanent). */
  readAvailable(chunk = 1 << 20): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (;;) {
      const b = this.read(chunk);
      if (!b || b.byteLength === 0) return out;
      out.push(b);
    }
  }

  /** Chunks until the permanent end (use in STOP_COPY). */
  async *chunks(chunk = 1 << 20): AsyncGenerator<Uint8Array> {
    for (;;) {
      const b = this.read(chunk);
      if (!b || b.byteLength === 0) return;
      yield b;
    }
  }

  /** VFIO_MIG_GET_PRECOPY_INFO (PRE_COPY and PRE_COPY_P2P only) */
  precopyInfo(): { initialBytes: bigint; dirtyBytes: bigint } {
    const { out } = structIoctl(this.sys, this.fd, "VFIO_MIG_GET_PRECOPY_INFO", vfio_precopy_info, {});
    return { initialBytes: out.initial_bytes, dirtyBytes: out.dirty_bytes };
  }

  close(): void {
    sys("close", () => this.sys.close(this.fd));
  }
}

export class ResumeStream {
  position = 0;

  constructor(
    readonly sys: Syscalls,
    readonly fd: number,
  ) {}

  write(bytes: Uint8Array): number {
    const n = sys("write", () => this.sys.write(this.fd, bytes));
    this.position += n;
    return n;
  }

  close(): void {
    sys("close", () => this.sys.close(this.fd));
  }
}

