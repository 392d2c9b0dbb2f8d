/**
 * The variant-driver half of migration for any emulated migratable device:
 * each direct v2 arc the core asks for becomes the device verbs it means
 * (quiesce peer-to-peer, stop, run, open or finish a save or resume session),
 * and device refusals become the errnos the kernel's drivers return.
 */
import { Errno, VFIO_MIGRATION } from "../../uapi/index.js";
import { DeviceMigrationError, DmaLogError, type DeviceDmaLog, type MigratableDevice, type SaveStream } from "../../hw/devices/migration.js";
import type { UserAddressSpace } from "../user-memory.js";
import { ResumeDataFile, SaveDataFile, type TemporaryEnd } from "../vfio/data-file.js";
import { ArcFailure, type LoggingOps, type LoggingRange, type MigrationOps, type MigrationSession } from "../vfio/driver.js";
import type { MigState } from "../../uapi/migration-fsm.js";

const SYSCALL = "VFIO_DEVICE_FEATURE(MIG_DEVICE_STATE)";

/** Errnos for device refusals, as the kernel's drivers choose them (mtty: EFAULT on a bad header, ENOMEM past the maximum). */
function toErrno(e: unknown, from: MigState, to: MigState, device: MigratableDevice): never {
  if (e instanceof DeviceMigrationError) {
    if (device.health === "failed") throw new ArcFailure("EIO", `${device.name}: ${e.message}`, "ERROR");
    const errno = (
      {
        "invalid-state": "EINVAL",
        unsupported: "EINVAL",
        "device-failed": "EIO",
        "arc-failed": "EIO",
        "session-closed": "ENODEV",
        "too-big": "ENOMEM",
        "bad-header": "EFAULT",
        incompatible: "EINVAL",
        corrupt: "EINVAL",
        incomplete: "EINVAL",
      } as const
    )[e.code];
    throw new Errno(errno, `${from} -> ${to}: ${device.name}: ${e.message}`, SYSCALL);
  }
  throw e;
}

export interface DeviceMigrationOptions {
  /** what a read at a temporary end of pre-copy data answers (mlx5: ENOMSG; mtty, hisi_acc: 0) */
  temporaryEnd: TemporaryEnd;
}

export class DeviceMigrationOps implements MigrationOps {
  readonly flags: number;
  private save: SaveStream | null = null;
  private saveFile: SaveDataFile | null = null;
  /** the core's current state, for the data fd's ENOMSG-vs-EOF rule */
  private state: MigState = "RUNNING";

  constructor(
    readonly device: MigratableDevice,
    private readonly user: UserAddressSpace,
    private readonly options: DeviceMigrationOptions,
  ) {
    const f = device.features;
    this.flags = VFIO_MIGRATION.bits.STOP_COPY | (f.p2p ? VFIO_MIGRATION.bits.P2P : 0) | (f.preCopy ? VFIO_MIGRATION.bits.PRE_COPY : 0);
  }

  private openSave(preCopy: boolean): MigrationSession {
    const stream = this.device.startSave({ preCopy });
    this.save = stream;
    const file = new SaveDataFile(
      this.user,
      {
        read: (max) => {
          try {
            return stream.read(max);
          } catch (e) {
            if (e instanceof DeviceMigrationError && e.code === "session-closed") throw new Errno("ENODEV", e.message, "read");
            throw e instanceof DeviceMigrationError ? new Errno("EIO", e.message, "read") : e;
          }
        },
        get hasData() {
          return stream.mode === "pre-copy" ? stream.initialBytes() + stream.dirtyBytes() > 0 : !stream.complete;
        },
        precopyInfo: () => ({ initialBytes: BigInt(stream.initialBytes()), dirtyBytes: BigInt(stream.dirtyBytes()) }),
      },
      () => this.state,
      this.options.temporaryEnd,
    );
    this.saveFile = file;
    return {
      file,
      disable: () => {
        file.disable();
        stream.close();
        if (this.save === stream) this.save = null;
      },
    };
  }

  private openResume(): MigrationSession {
    const stream = this.device.startResume();
    const file = new ResumeDataFile({
      write: (bytes) => {
        try {
          stream.write(bytes);
        } catch (e) {
          toErrno(e, "RESUMING", "RESUMING", this.device);
        }
      },
    });
    return {
      file,
      disable: () => {
        file.disable();
        stream.close();
      },
    };
  }

  step(from: MigState, to: MigState): MigrationSession | null {
    const d = this.device;
    try {
      const session = this.arc(from, to);
      this.state = to;
      return session;
    } catch (e) {
      toErrno(e, from, to, d);
    }
  }

  private arc(from: MigState, to: MigState): MigrationSession | null {
    const d = this.device;
    switch (`${from}>${to}`) {
      case "RUNNING>RUNNING_P2P":
      case "PRE_COPY>PRE_COPY_P2P":
      case "STOP>RUNNING_P2P":
        // from STOP too: running fully first, even for an instant, could let queued P2P out
        d.quiesceP2P();
        return null;
      case "RUNNING_P2P>RUNNING":
      case "PRE_COPY_P2P>PRE_COPY":
      case "STOP>RUNNING":
        d.run();
        return null;
      case "RUNNING_P2P>STOP":
      case "RUNNING>STOP":
        d.stop();
        return null;
      case "RUNNING>PRE_COPY":
      case "RUNNING_P2P>PRE_COPY_P2P":
        return this.openSave(true);
      case "PRE_COPY>RUNNING":
      case "PRE_COPY_P2P>RUNNING_P2P":
      case "STOP_COPY>STOP":
        // leaving the saving group: the core disables the session's fd
        return null;
      case "PRE_COPY_P2P>STOP_COPY":
      case "PRE_COPY>STOP_COPY":
        d.stop();
        this.save?.finishPreCopy();
        return null;
      case "STOP>STOP_COPY":
        return this.openSave(false);
      case "STOP>RESUMING":
        return this.openResume();
      case "RESUMING>STOP": {
        const s = d.session;
        if (!s || !("finish" in s)) throw new DeviceMigrationError("invalid-state", "no resume session to finish");
        s.finish();
        return null;
      }
      default:
        throw new Errno("EINVAL", `the driver has no arc ${from} -> ${to}`, SYSCALL);
    }
  }

  dataSize(): bigint {
    return BigInt(this.device.stopCopyLength());
  }

  reset(): void {
    this.saveFile?.disable();
    this.saveFile = null;
    this.save = null;
    // The migration half of a reset, as a driver's reset hook does it: sessions end and the device
    // runs. The device itself is not reset here: for vfio-pci variants the function reset (with its
    // config saved and restored) already ran and reached the model through its FLR hook; mtty's
    // reset is a migration reset only. A device that failed an arc is reset, as nothing else recovers it.
    const d = this.device;
    if (d.health === "ok") {
      d.session?.close();
      if (d.runState !== "running") d.run();
    } else {
      d.reset();
    }
    this.state = "RUNNING";
  }
}

/** DMA_LOGGING_* on a device's own log, with the device's refusals as the errnos drivers use. */
export class DeviceLoggingOps implements LoggingOps {
  constructor(private readonly log: DeviceDmaLog) {}

  private call<T>(fn: () => T, syscall: string): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof DmaLogError) {
        throw new Errno(e.code === "too-many-ranges" ? "E2BIG" : "EINVAL", e.message, syscall);
      }
      if (e instanceof RangeError) throw new Errno("EINVAL", e.message, syscall);
      throw e;
    }
  }

  start(ranges: readonly LoggingRange[], pageSize: bigint): bigint {
    const asNumber = (v: bigint, what: string) => {
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Errno("EINVAL", `${what} 0x${v.toString(16)} is beyond what the device can track`, "DMA_LOGGING_START");
      return Number(v);
    };
    const rs = ranges.map((r) => ({ iova: asNumber(r.iova, "iova"), length: asNumber(r.length, "length") }));
    if (pageSize === 0n) throw new Errno("EINVAL", "page_size 0", "DMA_LOGGING_START");
    return BigInt(this.call(() => this.log.start(rs, asNumber(pageSize, "page_size")), "DMA_LOGGING_START"));
  }

  stop(): void {
    if (this.log.active) this.log.stop();
  }

  report(iova: bigint, length: bigint, pageSize: bigint, bitmap: Uint32Array): void {
    if (!this.log.active) throw new Errno("EINVAL", "DMA logging is not active", "DMA_LOGGING_REPORT");
    this.call(() => this.log.report(Number(iova), Number(length), Number(pageSize), bitmap), "DMA_LOGGING_REPORT");
  }
}
