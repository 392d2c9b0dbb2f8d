/** The guest kernel's log, read from /dev/kmsg (one record per read, EAGAIN at the end). */
import { closeSync, constants, openSync, readSync } from "node:fs";

/** Every message in the kernel's ring buffer, oldest first, without the record headers. */
export function kernelLog(): string[] {
  const fd = openSync("/dev/kmsg", constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(8192);
  const out: string[] = [];
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") break;
        // EPIPE: records were overwritten while reading; the next read resumes at the oldest kept one
        if (code === "EPIPE") continue;
        throw e;
      }
      const record = buf.toString("utf8", 0, n);
      out.push(record.slice(record.indexOf(";") + 1).trimEnd());
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
