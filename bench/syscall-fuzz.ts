/**
 * A seeded fuzzer for the emulated kernel's syscall line: random fds, request
 * numbers, argsz values, flags and payloads against a machine with every kind
 * of fd open. Every call must return or throw an Errno — nothing else — and
 * after each call the invariants hold: no fd appears that no call returned,
 * every device is in a state its flags allow, and host memory outside what
 * the process mapped is untouched.
 */
import fc from "fast-check";
import { Errno, IOCTL, STRUCTS, VFIO_DEVICE_FEATURE_FLAG, type StructDef } from "../hw-emu/uapi/index.js";
import { createMachine, type EmulatedMachine } from "../hw-emu/machine/machine.js";
import { supportedStates } from "../hw-emu/uapi/migration-fsm.js";
import { ANON_BASE } from "../hw-emu/kernel/user-memory.js";

const KNOWN_REQUESTS = Object.values(IOCTL);
const STRUCT_DEFS = Object.values(STRUCTS);
const { GET, SET, PROBE } = VFIO_DEVICE_FEATURE_FLAG.bits;

export type FuzzCall =
  | { kind: "ioctl"; fdPick: number; request: number; arg: FuzzArg }
  | { kind: "read" | "write"; fdPick: number; size: number }
  | { kind: "pread" | "pwrite"; fdPick: number; size: number; offset: bigint }
  | { kind: "close"; fdPick: number }
  | { kind: "poll"; fdPick: number };

export type FuzzArg = { kind: "int"; value: bigint } | { kind: "struct"; structIndex: number; seedBytes: Uint8Array; argsz: number; extra: number; pointerToBuffer: boolean } | { kind: "feature"; index: number; dirs: number; payload: Uint8Array; argsz: number };

const pick = fc.nat({ max: 63 });

const argArb: fc.Arbitrary<FuzzArg> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("int" as const), value: fc.oneof(fc.bigInt({ min: 0n, max: 16n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("struct" as const),
      structIndex: fc.nat({ max: STRUCT_DEFS.length - 1 }),
      seedBytes: fc.uint8Array({ minLength: 64, maxLength: 64 }),
      argsz: fc.oneof(fc.constant(-1), fc.constant(-2), fc.nat({ max: 96 })),
      extra: fc.nat({ max: 32 }),
      pointerToBuffer: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("feature" as const),
      index: fc.oneof(fc.nat({ max: 12 }), fc.nat({ max: 0xffff })),
      dirs: fc.oneof(fc.constantFrom(GET, SET, GET | PROBE, SET | PROBE, GET | SET | PROBE, GET | SET, 0), fc.nat()),
      payload: fc.uint8Array({ maxLength: 40 }),
      argsz: fc.oneof(fc.constant(-1), fc.nat({ max: 64 })),
    }),
  },
);

export const callArb: fc.Arbitrary<FuzzCall> = fc.oneof(
  {
    weight: 60,
    arbitrary: fc.record({
      kind: fc.constant("ioctl" as const),
      fdPick: pick,
      request: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...KNOWN_REQUESTS) }, { weight: 1, arbitrary: fc.nat({ max: 0xffff_ffff }) }),
      arg: argArb,
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constantFrom("read" as const, "write" as const), fdPick: pick, size: fc.nat({ max: 64 }) }) },
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constantFrom("pread" as const, "pwrite" as const), fdPick: pick, size: fc.constantFrom(1, 2, 4, 8, 3, 16), offset: fc.bigInt({ min: 0n, max: (10n << 40n) + 0x2000n }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("close" as const), fdPick: pick }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("poll" as const), fdPick: pick }) },
);

/** A machine with one fd of every kind open, plus the bookkeeping the invariants need. */
export class FuzzTarget {
  readonly machine: EmulatedMachine;
  /** fds userspace knows about (opened or returned by a call) */
  readonly known = new Set<number>();
  private readonly ram: { start: bigint; end: bigint };

  constructor(seed: number) {
    const m = createMachine({ seed, devices: [{ model: "nic", stateSize: 8192, queues: 1 }, { model: "accel" }] });
    this.machine = m;
    const s = m.sys;
    const container = s.open("/dev/vfio/vfio");
    const group = s.open(`/dev/vfio/${m.devices[0]!.group}`);
    const setc = new Uint8Array(4);
    new DataView(setc.buffer).setInt32(0, container, true);
    s.ioctl(group, IOCTL.VFIO_GROUP_SET_CONTAINER, setc);
    s.ioctl(container, IOCTL.VFIO_SET_IOMMU, 3);
    const dev = s.ioctl(group, IOCTL.VFIO_GROUP_GET_DEVICE_FD, new TextEncoder().encode(m.devices[0]!.address + "\0"));
    const iommufd = s.open("/dev/iommu");
    const cdev = s.open(m.devices[1]!.cdev);
    const efd = s.eventfd(0);
    const ram = s.mmap(-1, 1 << 20, 3, 0x21, 0n);
    this.ram = { start: ram.addr, end: ram.addr + BigInt(ram.length) };
    for (const fd of [container, group, dev, iommufd, cdev, efd]) this.known.add(fd);
  }

  private fdFor(p: number): number {
    const list = [...this.known].sort((a, b) => a - b);
    // mostly real fds, sometimes closed or never-opened numbers
    return p < 48 && list.length ? list[p % list.length]! : p - 48 + (p % 2 ? 0 : 40);
  }

  private buildArg(arg: FuzzArg): number | bigint | Uint8Array {
    if (arg.kind === "int") return arg.value;
    if (arg.kind === "feature") {
      const buf = new Uint8Array(8 + arg.payload.byteLength);
      const argsz = arg.argsz < 0 ? buf.byteLength : arg.argsz;
      new DataView(buf.buffer).setUint32(0, argsz, true);
      new DataView(buf.buffer).setUint32(4, ((arg.index & 0xffff) | (arg.dirs & ~0xffff)) >>> 0, true);
      buf.set(arg.payload, 8);
      return buf;
    }
    const def = STRUCT_DEFS[arg.structIndex]! as StructDef<Record<string, unknown>>;
    const buf = new Uint8Array(def.size + arg.extra);
    for (let i = 0; i < buf.byteLength; i++) buf[i] = arg.seedBytes[i % 64]!;
    const argsz = arg.argsz === -1 ? def.size : arg.argsz === -2 ? def.minsz : arg.argsz;
    if (buf.byteLength >= 4) new DataView(buf.buffer).setUint32(0, argsz, true);
    return arg.pointerToBuffer ? this.machine.sys.addressOf(buf) : buf;
  }

  /** Run one call; returns "ok" or the errno name. Anything but an Errno is rethrown (a defect). */
  run(call: FuzzCall): string {
    const s = this.machine.sys;
    const fd = this.fdFor(call.fdPick);
    const before = new Set(this.machine.kernel.openFiles().keys());
    try {
      switch (call.kind) {
        case "ioctl":
          s.ioctl(fd, call.request, this.buildArg(call.arg));
          break;
        case "read":
          s.read(fd, new Uint8Array(call.size));
          break;
        case "write":
          s.write(fd, new Uint8Array(call.size));
          break;
        case "pread":
          s.pread(fd, new Uint8Array(call.size), call.offset);
          break;
        case "pwrite":
          s.pwrite(fd, new Uint8Array(call.size).fill(0xa5), call.offset);
          break;
        case "close":
          s.close(fd);
          this.known.delete(fd);
          break;
        case "poll":
          s.poll([{ fd, events: 1 }], 0);
          break;
      }
      return "ok";
    } catch (e) {
      if (e instanceof Errno) return e.code;
      throw new Error(`${call.kind} on fd ${fd} threw ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    } finally {
      // fds a call created are the ones it returned (device fds, data fds): userspace now owns them
      for (const f of this.machine.kernel.openFiles().keys()) if (!before.has(f)) this.known.add(f);
    }
  }

  /** The invariants; returns a description of the first violation, or null. */
  check(): string | null {
    const open = new Set(this.machine.kernel.openFiles().keys());
    for (const fd of open) if (!this.known.has(fd)) return `fd ${fd} is open but no call returned it`;
    for (const fd of this.known) if (!open.has(fd)) return `fd ${fd} vanished without close`;
    for (const d of this.machine.devices) {
      const mig = d.vfio.migration;
      if (mig && mig.state !== "ERROR" && !supportedStates(mig.flags).includes(mig.state)) return `${d.name} is in ${mig.state}, which its flags do not allow`;
    }
    const mem = this.machine.hw.memory;
    for (const addr of mem.allocatedPageAddresses()) {
      const va = ANON_BASE + BigInt(addr);
      if (va < this.ram.start || va >= this.ram.end) return `host page 0x${addr.toString(16)} outside the process's mappings was written`;
    }
    return null;
  }
}

const show = (call: FuzzCall) => JSON.stringify(call, (_, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? `bytes(${v.byteLength})` : v));

/**
 * Run `runs` sequences of `length` calls each, generated from `seed`, each on a
 * fresh machine; throws on the first defect or invariant violation, naming the call.
 */
export function fuzzSyscalls(options: { seed: number; runs: number; length: number }): { calls: number; outcomes: Record<string, number> } {
  const outcomes: Record<string, number> = {};
  let calls = 0;
  const sequences = fc.sample(fc.tuple(fc.array(callArb, { minLength: options.length, maxLength: options.length }), fc.nat({ max: 1000 })), {
    seed: options.seed,
    numRuns: options.runs,
  });
  sequences.forEach(([seq, machineSeed], run) => {
    const t = new FuzzTarget(machineSeed + 1);
    seq.forEach((call, i) => {
      let r: string;
      try {
        r = t.run(call);
      } catch (e) {
        throw new Error(`run ${run}, call ${i}: ${show(call)}: ${e instanceof Error ? e.message : String(e)}`);
      }
      outcomes[r] = (outcomes[r] ?? 0) + 1;
      calls++;
      const bad = t.check();
      if (bad) throw new Error(`run ${run}, call ${i}: after ${show(call)}: ${bad}`);
    });
  });
  return { calls, outcomes };
}
