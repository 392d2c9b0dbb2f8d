/**
 * Device discovery on a real host: listings, links and small attribute files
 * under /sys (and listings under /dev), read with node:fs.
 */
import { closeSync, openSync, readSync, readdirSync, readlinkSync } from "node:fs";
import { constants } from "node:os";
import { Errno } from "../../../hw-emu/uapi/index.js";
import { checkUnder } from "./paths.js";

/** sysfs attributes fit in a page; anything far larger is not what readFile is for. */
const MAX_FILE_BYTES = 64 * 1024;

function asErrno(e: unknown, syscall: string, path: string): unknown {
  const err = e as NodeJS.ErrnoException;
  const code = typeof err?.code === "string" ? err.code : undefined;
  const n = code !== undefined ? (constants.errno as Record<string, number>)[code] : undefined;
  if (n !== undefined) return Errno.fromNumber(n, syscall, path);
  if (typeof err?.errno === "number") return Errno.fromNumber(Math.abs(err.errno), syscall, path);
  return e;
}

function fsCall<T>(syscall: string, path: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    throw asErrno(e, syscall, path);
  }
}

export function readdir(path: string): string[] {
  const p = checkUnder(path, ["/sys", "/dev"], "readdir");
  return fsCall("readdir", path, () => readdirSync(p)).sort();
}

export function readlink(path: string): string {
  const p = checkUnder(path, ["/sys", "/dev"], "readlink");
  return fsCall("readlink", path, () => readlinkSync(p));
}

export function readFile(path: string): string {
  // /sys only: under /dev a "file" can be a disk or an endless stream such as /dev/zero
  const p = checkUnder(path, ["/sys"], "read");
  const fd = fsCall("open", path, () => openSync(p, "r"));
  try {
    const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = fsCall("read", path, () => readSync(fd, buf, n, buf.length - n, null));
      if (got === 0) break;
      n += got;
      if (n > MAX_FILE_BYTES) throw new Errno("EOVERFLOW", `${path} is larger than ${MAX_FILE_BYTES} bytes; readFile is for small attribute files`, "read");
    }
    return buf.toString("utf8", 0, n);
  } finally {
    closeSync(fd);
  }
}
