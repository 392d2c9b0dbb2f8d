/** Turning the addon's answers into the Errno every backend throws. */
import { ERRNO, Errno, type ErrnoName } from "../../../hw-emu/uapi/index.js";

/** A system call's result: non-negative values pass, -errno becomes an Errno. */
export function checked(result: number, syscall: string, detail = ""): number {
  if (result < 0) throw Errno.fromNumber(-result, syscall, detail);
  return result;
}

function isErrnoName(code: unknown): code is ErrnoName {
  return typeof code === "string" && Object.hasOwn(ERRNO, code);
}

/**
 * Run an addon call; an argument it refused with an errno-coded Error (see
 * addon.ts) becomes that Errno, with the addon's explanation as the detail.
 */
export function guarded<T>(syscall: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    const code = e instanceof Error && !(e instanceof Errno) ? (e as NodeJS.ErrnoException).code : undefined;
    if (isErrnoName(code)) throw new Errno(code, (e as Error).message, syscall);
    throw e;
  }
}
