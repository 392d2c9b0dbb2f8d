/**
 * The native backend and the emulated kernel answer the same calls the same
 * way (values and errno names), for the parts both can run on a host without
 * /dev/vfio: eventfd counters, poll, anonymous memory.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Kernel } from "../../hw-emu/kernel/kernel.js";
import { Clock } from "../../hw-emu/sim/clock.js";
import { EFD, Errno, IOCTL, MMAP, POLL, type Syscalls } from "../../hw-emu/uapi/index.js";
import { createNativeBackend, nativeBackendStatus } from "../../kernel-lib/backends/native/index.js";

function emulated(): Syscalls {
  const ram = new Uint8Array(1 << 20);
  const host = {
    read: (addr: number, length: number) => ram.slice(addr, addr + length),
    write: (addr: number, src: Uint8Array) => ram.set(src, addr),
  };
  return new Kernel(host, ram.byteLength, new Clock());
}

type Outcome = { ok: unknown } | { errno: string };

function outcome(fn: () => unknown): Outcome {
  try {
    return { ok: fn() };
  } catch (e) {
    if (e instanceof Errno) return { errno: e.code };
    throw e;
  }
}

function u64(n: bigint, size = 8): Uint8Array {
  const b = new Uint8Array(Math.max(size, 8));
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b.subarray(0, size);
}

type Op =
  | { op: "write"; value: bigint; size: number }
  | { op: "read"; size: number }
  | { op: "poll"; events: number }
  | { op: "ioctl" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("write" as const),
    value: fc.oneof(fc.bigInt(0n, 5n), fc.constantFrom(0xffff_ffff_ffff_fffdn, 0xffff_ffff_ffff_fffen, 0xffff_ffff_ffff_ffffn)),
    // no writes longer than 8 bytes: Linux versions differ there (some take the first 8, some refuse)
    size: fc.constantFrom(8, 8, 8, 4),
  }),
  fc.record({ op: fc.constant("read" as const), size: fc.constantFrom(8, 8, 4, 16) }),
  fc.record({ op: fc.constant("poll" as const), events: fc.constantFrom(POLL.POLLIN, POLL.POLLOUT, POLL.POLLIN | POLL.POLLOUT) }),
  fc.constant({ op: "ioctl" as const }),
);

/** Run a script on one backend; fd numbers differ between backends, so results never include them. */
function runScript(sys: Syscalls, initval: number, semaphore: boolean, ops: readonly Op[]): Outcome[] {
  const fd = sys.eventfd(initval, EFD.EFD_NONBLOCK | (semaphore ? EFD.EFD_SEMAPHORE : 0));
  try {
    return ops.map((o) => {
      switch (o.op) {
        case "write":
          return outcome(() => sys.write(fd, u64(o.value, o.size)));
        case "read":
          return outcome(() => {
            const buf = new Uint8Array(o.size);
            const n = sys.read(fd, buf);
            return [n, new DataView(buf.buffer).getBigUint64(0, true)];
          });
        case "poll":
          return outcome(() => sys.poll([{ fd, events: o.events }], 0).map((r) => r.revents));
        case "ioctl":
          return outcome(() => sys.ioctl(fd, IOCTL.VFIO_GET_API_VERSION));
      }
    });
  } finally {
    sys.close(fd);
  }
}

const available = nativeBackendStatus().available;

describe.runIf(available)("native and emulated backends agree", () => {
  const native = available ? createNativeBackend() : (undefined as unknown as Syscalls);

  it("on eventfd counters, poll and ioctl errors", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.array(opArb, { maxLength: 25 }), (initval, semaphore, ops) => {
        expect(runScript(native, initval, semaphore, ops)).toEqual(runScript(emulated(), initval, semaphore, ops));
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it("on anonymous memory contents and bounds", () => {
    const size = 64 * 1024;
    const spanArb = fc.record({ offset: fc.integer({ min: 0, max: size + 8 }), bytes: fc.uint8Array({ maxLength: 64 }) });
    fc.assert(
      fc.property(fc.array(spanArb, { maxLength: 20 }), (writes) => {
        const results = [native, emulated()].map((sys) => {
          const m = sys.mmap(-1, size, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_PRIVATE | MMAP.MAP_ANONYMOUS, 0n);
          try {
            const log = writes.map(({ offset, bytes }) => {
              try {
                m.write(offset, bytes);
                return Array.from(m.read(offset, bytes.byteLength));
              } catch (e) {
                return e instanceof RangeError ? "RangeError" : String(e);
              }
            });
            return { log, first: Array.from(m.read(0, 256)), last: Array.from(m.read(size - 256, 256)) };
          } finally {
            sys.munmap(m);
          }
        });
        expect(results[0]).toEqual(results[1]);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
