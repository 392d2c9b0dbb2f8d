/**
 * index.ts for the browser build (esbuild puts this module in its place): a page has no
 * /dev/vfio and no N-API, so the native backend says so instead of loading its addon.
 */
import type { Syscalls } from "../../../hw-emu/uapi/index.js";
import type { NativeBackendStatus } from "./index.js";

export type { NativeBackendStatus } from "./index.js";

const REASON = "the native backend needs Node.js and a Linux host's /dev/vfio; in a browser page only the emulator runs";

export function nativeBackendStatus(): NativeBackendStatus {
  return { available: false, reason: REASON };
}

export function createNativeBackend(): Syscalls {
  throw new Error(`the native backend is unavailable: ${REASON}`);
}
