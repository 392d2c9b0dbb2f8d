/**
 * The functions the N-API addon (native/*.c, built by binding.gyp) exports.
 * Each system call returns its result, or -errno when the kernel refused. Calls
 * the addon refuses before reaching the kernel (a buffer too short for the
 * argsz it declares, an unsupported flag) throw an Error whose `code` is the
 * errno name the kernel would have used; wrong argument types throw TypeError
 * or RangeError.
 */

/** An opaque handle on one mmap()ed span; unmapped when garbage collected if munmap was not called. */
export type MappingHandle = { readonly __brand: "vfio-workbench mapping handle" };

export interface NativeAddon {
  open(path: string, flags: number): number;
  close(fd: number): number;
  ioctlBuffer(fd: number, request: number, arg: Uint8Array): number;
  ioctlValue(fd: number, request: number, arg: bigint): number;
  read(fd: number, buf: Uint8Array): number;
  write(fd: number, buf: Uint8Array): number;
  pread(fd: number, buf: Uint8Array, offset: bigint): number;
  pwrite(fd: number, buf: Uint8Array, offset: bigint): number;
  eventfd(initval: number, flags: number): number;
  /** entries: (fd, events, revents) triples; revents are written in place. Returns the ready count or -errno. */
  poll(entries: Int32Array, timeoutMs: number): number;
  addressOf(buf: Uint8Array): bigint;
  mmap(fd: number, length: number, prot: number, flags: number, offset: bigint): MappingHandle | number;
  mappingAddress(handle: MappingHandle): bigint;
  mappingRead(handle: MappingHandle, offset: number, dest: Uint8Array): number;
  mappingWrite(handle: MappingHandle, offset: number, src: Uint8Array): number;
  munmap(handle: MappingHandle): number;
}

/** The names a loaded module must export to be taken for this addon. */
export const ADDON_FUNCTIONS: readonly (keyof NativeAddon)[] = [
  "open",
  "close",
  "ioctlBuffer",
  "ioctlValue",
  "read",
  "write",
  "pread",
  "pwrite",
  "eventfd",
  "poll",
  "addressOf",
  "mmap",
  "mappingAddress",
  "mappingRead",
  "mappingWrite",
  "munmap",
];
