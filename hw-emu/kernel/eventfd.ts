/**
 * eventfd(2): a 64-bit counter. The emulated kernel signals it when an
 * interrupt fires; userspace reads it (8 bytes, the count, which resets it) or
 * polls it. Reads with nothing pending answer EAGAIN: the emulator never blocks,
 * since simulated time only moves when the caller lets it.
 */
import { EFD, Errno, POLL } from "../uapi/index.js";
import { KFile } from "./file.js";

const COUNTER_MAX = 0xffff_ffff_ffff_fffen;

export class EventFd extends KFile {
  readonly kind = "eventfd" as const;
  readonly label = "anon_inode:[eventfd]";
  private counter: bigint;
  /** how many times the kernel signalled it (for lab observation) */
  signals = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    initval: number,
    private readonly flags: number,
  ) {
    super();
    this.counter = BigInt(initval);
  }

  get count(): bigint {
    return this.counter;
  }

  /** eventfd_signal(): what the kernel does when an interrupt fires */
  signal(n = 1n): void {
    this.counter = this.counter + n > COUNTER_MAX ? COUNTER_MAX : this.counter + n;
    this.signals++;
    for (const l of this.listeners) l();
  }

  onSignal(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  override read(buf: Uint8Array): number {
    if (buf.byteLength < 8) throw new Errno("EINVAL", "an eventfd read needs an 8-byte buffer", "read");
    if (this.counter === 0n) throw new Errno("EAGAIN", "the counter is zero (nothing signalled yet)", "read");
    const semaphore = (this.flags & EFD.EFD_SEMAPHORE) !== 0;
    const value = semaphore ? 1n : this.counter;
    this.counter -= value;
    new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, value, true);
    return 8;
  }

  override write(buf: Uint8Array): number {
    if (buf.byteLength < 8) throw new Errno("EINVAL", "an eventfd write needs an 8-byte buffer", "write");
    const v = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
    if (v === 0xffff_ffff_ffff_ffffn) throw new Errno("EINVAL", "0xffffffffffffffff cannot be added", "write");
    if (this.counter + v > COUNTER_MAX) throw new Errno("EAGAIN", "the counter would overflow", "write");
    this.counter += v;
    for (const l of this.listeners) l();
    return 8;
  }

  override poll(events: number): number {
    let r = 0;
    if (this.counter > 0n) r |= POLL.POLLIN;
    if (this.counter < COUNTER_MAX) r |= POLL.POLLOUT;
    return r & (events | POLL.POLLERR | POLL.POLLHUP);
  }
}
