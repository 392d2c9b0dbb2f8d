/**
 * Migration data fds: the save fd a saving-group session streams through, and
 * the resume fd a RESUMING session is fed through. Both are streams (positioned
 * I/O is ESPIPE) and both answer ENODEV once their session has ended, though the
 * fd stays open until the user closes it.
 */
import { Errno, IOCTL, POLL, copyInArgsz, vfio_precopy_info } from "../../uapi/index.js";
import { KFile, type IoctlArg } from "../file.js";
import type { UserAddressSpace } from "../user-memory.js";
import type { MigState } from "../../uapi/migration-fsm.js";
import type { MigrationSession } from "./driver.js";
import { argBytes } from "../user-args.js";

export interface SaveSource {
  /** up to `max` bytes available now; an empty array means nothing more right now */
  read(max: number): Uint8Array;
  /** whether read() would return bytes */
  readonly hasData: boolean;
  /** VFIO_MIG_GET_PRECOPY_INFO's numbers */
  precopyInfo(): { initialBytes: bigint; dirtyBytes: bigint };
}

export interface ResumeSink {
  /** consume bytes; throws Errno (ENOMEM past the device's maximum, EFAULT for a bad header ...) */
  write(bytes: Uint8Array): void;
}

/**
 * What a read at a temporary end of pre-copy data answers: the uAPI says ENOMSG
 * (mlx5 does that); mtty and hisi_acc return 0 instead. Clients must take both.
 */
export type TemporaryEnd = "ENOMSG" | "zero";

const PRE_COPY_STATES: ReadonlySet<MigState> = new Set<MigState>(["PRE_COPY", "PRE_COPY_P2P"]);

export class SaveDataFile extends KFile implements MigrationSession {
  readonly kind = "migration-data" as const;
  readonly label = "anon_inode:[vfio-migration-save]";
  private disabled = false;
  /** bytes read by the user so far */
  position = 0;

  constructor(
    private readonly user: UserAddressSpace,
    private readonly source: SaveSource,
    private readonly deviceState: () => MigState,
    private readonly temporaryEnd: TemporaryEnd,
  ) {
    super();
  }

  get file(): KFile {
    return this;
  }

  disable(): void {
    this.disabled = true;
  }

  get isDisabled(): boolean {
    return this.disabled;
  }

  override read(buf: Uint8Array): number {
    if (this.disabled) throw new Errno("ENODEV", "the save session has ended (the device left the saving states, or was reset)", "read");
    const chunk = this.source.read(buf.byteLength);
    if (chunk.byteLength > 0) {
      buf.set(chunk);
      this.position += chunk.byteLength;
      return chunk.byteLength;
    }
    if (PRE_COPY_STATES.has(this.deviceState()) && this.temporaryEnd === "ENOMSG") {
      throw new Errno("ENOMSG", "no pre-copy data right now (a temporary end of stream)", "read");
    }
    return 0;
  }

  override write(_buf: Uint8Array): number {
    throw new Errno("EBADF", "a save data fd is opened read-only", "write");
  }

  override ioctl(request: number, arg: IoctlArg): number {
    if (request !== IOCTL.VFIO_MIG_GET_PRECOPY_INFO) throw new Errno("ENOTTY", "a migration data fd has one ioctl, VFIO_MIG_GET_PRECOPY_INFO", "ioctl");
    const syscall = "VFIO_MIG_GET_PRECOPY_INFO";
    const bytes = argBytes(this.user, arg, vfio_precopy_info.minsz, syscall);
    const { value } = copyInArgsz(vfio_precopy_info, bytes, syscall);
    const state = this.deviceState();
    if (!PRE_COPY_STATES.has(state)) throw new Errno("EINVAL", `pre-copy information exists only in PRE_COPY and PRE_COPY_P2P; the device is ${state}`, syscall);
    if (this.disabled) throw new Errno("ENODEV", "the save session has ended", syscall);
    const info = this.source.precopyInfo();
    // only the first 24 bytes are written back; flags are echoed as the caller passed them
    bytes.set(vfio_precopy_info.encode({ argsz: value.argsz, flags: value.flags, initial_bytes: info.initialBytes, dirty_bytes: info.dirtyBytes }), 0);
    return 0;
  }

  override poll(events: number): number {
    if (this.disabled) return POLL.POLLERR & (events | POLL.POLLERR);
    const atEof = !PRE_COPY_STATES.has(this.deviceState());
    return (this.source.hasData || atEof ? POLL.POLLIN : 0) & events;
  }
}

export class ResumeDataFile extends KFile implements MigrationSession {
  readonly kind = "migration-data" as const;
  readonly label = "anon_inode:[vfio-migration-resume]";
  private disabled = false;
  position = 0;

  constructor(private readonly sink: ResumeSink) {
    super();
  }

  get file(): KFile {
    return this;
  }

  disable(): void {
    this.disabled = true;
  }

  override read(_buf: Uint8Array): number {
    throw new Errno("EBADF", "a resume data fd is opened write-only", "read");
  }

  override write(buf: Uint8Array): number {
    if (this.disabled) throw new Errno("ENODEV", "the resume session has ended", "write");
    this.sink.write(buf.slice());
    this.position += buf.byteLength;
    return buf.byteLength;
  }

  // no ioctl: the resume fds of the kernel's drivers have no ioctl handler, so every request is ENOTTY

  override poll(events: number): number {
    return (this.disabled ? POLL.POLLERR : POLL.POLLOUT) & (events | POLL.POLLERR);
  }
}
