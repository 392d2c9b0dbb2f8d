/**
 * The `native` backend: the syscall line over a real Linux kernel and a real
 * /dev/vfio, through a small N-API addon built at install time. The addon is
 * optional; without it `nativeBackendStatus()` says why and
 * `createNativeBackend()` throws that reason.
 */
import type { Syscalls } from "../../../hw-emu/uapi/index.js";
import { NativeSyscalls } from "./backend.js";
import { loadAddon, type NativeLoadOptions } from "./loader.js";

export { ADDON_PATH_ENV, type NativeLoadOptions } from "./loader.js";
export { OPENABLE } from "./paths.js";

export interface NativeBackendStatus {
  available: boolean;
  /** Why the backend cannot be used, when it cannot. */
  reason?: string;
}

export function nativeBackendStatus(options: NativeLoadOptions = {}): NativeBackendStatus {
  const load = loadAddon(options);
  return load.available ? { available: true } : { available: false, reason: load.reason };
}

/** A Syscalls over the running Linux kernel; throws a clear Error when the addon is unavailable. */
export function createNativeBackend(options: NativeLoadOptions = {}): Syscalls {
  const load = loadAddon(options);
  if (!load.available) throw new Error(`the native backend is unavailable: ${load.reason}`);
  return new NativeSyscalls(load.addon);
}
