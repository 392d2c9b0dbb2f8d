/**
 * A real mmap()ed span. Bytes are copied in and out through the addon, which
 * checks bounds and protection, so JavaScript never holds a view that could
 * outlive the mapping. Device memory (a BAR) is accessed with single
 * naturally aligned loads and stores: a 4-byte write at a 4-byte aligned offset
 * is one 32-bit register write.
 */
import type { Mapping } from "../../../hw-emu/uapi/index.js";
import type { MappingHandle, NativeAddon } from "./addon.js";
import { checked, guarded } from "./errors.js";

export class NativeMapping implements Mapping {
  readonly addr: bigint;

  constructor(
    private readonly addon: NativeAddon,
    private readonly handle: MappingHandle,
    readonly length: number,
  ) {
    this.addr = addon.mappingAddress(handle);
  }

  read(offset: number, length: number): Uint8Array {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`read length ${length} must be a non-negative integer`);
    const out = new Uint8Array(length);
    guarded("mmap read", () => this.addon.mappingRead(this.handle, offset, out));
    return out;
  }

  write(offset: number, bytes: Uint8Array): void {
    guarded("mmap write", () => this.addon.mappingWrite(this.handle, offset, bytes));
  }

  /** munmap(2); a second call is EINVAL. */
  unmap(): void {
    checked(
      guarded("munmap", () => this.addon.munmap(this.handle)),
      "munmap",
    );
  }
}
