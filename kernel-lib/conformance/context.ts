/**
 * What a check works with: the device under test, helpers that move it
 * between states and read or write its data fds (every fd a check opens is
 * closed afterwards), and the outcome helpers `fail` and `skip`.
 */
import type { MigStateName, Syscalls } from "../../hw-emu/uapi/index.js";
import type { Device } from "../vfio/device.js";
import { VfioError } from "../vfio/errors.js";
import { MigrationError, ResumeStream, SaveStream, type Migration, type SetResult } from "../vfio/migration.js";
import type { LabEnv } from "./lab-env.js";

/** Thrown by a check to report a failure; the message is the detail. */
export class CheckFailure extends Error {
  override name = "CheckFailure";
}

/** Thrown by a check that finds it does not apply. */
export class CheckSkipped extends Error {
  override name = "CheckSkipped";
}

export function fail(detail: string): never {
  throw new CheckFailure(detail);
}

export function skip(reason: string): never {
  throw new CheckSkipped(reason);
}

/** A second device a saved stream can be resumed into. */
export interface Destination {
  device: Device;
  /** the lab's view of its internal state (emulator only) */
  snapshot?: () => Uint8Array;
  close(): void;
}

/** The device under test and what surrounds it for the whole run. */
export interface Subject {
  /** for the report */
  name: string;
  sys: Syscalls;
  device: Device;
  /** what GET reported right after the device was opened (null without migration) */
  initialState: MigStateName | null;
  /** the emulated hardware, when the device is emulated */
  lab: LabEnv | null;
  /** opens a second compatible device, or null (with `noDestination` saying why) */
  destination: (() => Destination) | null;
  noDestination: string;
  /** whether to send the blocked STOP_COPY -> PRE_COPY requests (kernels before 2026 spin forever on them) */
  probeBlockedArcs: boolean;
  close(): void;
}

/** A readable one-line account of a failed SET. */
export function describeSetError(e: unknown, from: MigStateName | string, to: MigStateName): string {
  if (e instanceof MigrationError) return `${from} -> ${to} failed with ${e.code} (${e.detail || e.meaning}); GET now reports ${e.reached}`;
  if (e instanceof VfioError) return `${from} -> ${to} failed with ${e.code} (${e.detail || e.meaning})`;
  throw e;
}

/** Bytes of several chunks as one array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Reads cap: far beyond any device state this suite meets, so a stream that never ends is caught. */
const MAX_STREAM_BYTES = 2 ** 31;

export class CheckContext {
  private readonly open = new Set<SaveStream | ResumeStream>();

  constructor(readonly subject: Subject) {}

  get device(): Device {
    return this.subject.device;
  }

  get mig(): Migration {
    const m = this.subject.device.migration;
    if (!m) throw new Error("the device has no migration support; the planner should not have run this check");
    return m;
  }

  get lab(): LabEnv {
    if (!this.subject.lab) throw new Error("this check needs the lab; the planner should have skipped it");
    return this.subject.lab;
  }

  /** The errno name a call fails with, or "ok". Only errors naming an errno count; others propagate. */
  errno(fn: () => unknown): string {
    try {
      fn();
      return "ok";
    } catch (e) {
      if (e instanceof VfioError) return e.code;
      throw e;
    }
  }

  /** SET the state; a new data fd is remembered and closed after the check. */
  set(target: MigStateName): SetResult {
    const r = this.mig.set(target);
    if (r.data) this.open.add(r.data);
    return r;
  }

  /** SET, turning a refusal into a check failure that says where the device was going. */
  goTo(target: MigStateName, why = ""): SetResult {
    const from = this.mig.state();
    try {
      return this.set(target);
    } catch (e) {
      fail(`${why ? why + ": " : ""}${describeSetError(e, from, target)}`);
    }
  }

  saveStream(r: SetResult, what: string): SaveStream {
    if (!(r.data instanceof SaveStream)) fail(`${what}: the kernel returned no save data fd`);
    return r.data;
  }

  resumeStream(r: SetResult, what: string): ResumeStream {
    if (!(r.data instanceof ResumeStream)) fail(`${what}: the kernel returned no resume data fd`);
    return r.data;
  }

  /** Read a STOP_COPY stream to its end (a 0-byte read). */
  readToEnd(s: SaveStream, chunk = 1 << 20): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const b = s.read(chunk);
      if (b === null) fail("a read in STOP_COPY failed with ENOMSG; ENOMSG means a temporary end, which only exists in pre-copy");
      if (b.byteLength === 0) return concat(parts);
      parts.push(b.slice());
      total += b.byteLength;
      if (total > MAX_STREAM_BYTES) fail(`the STOP_COPY stream did not end after ${total} bytes`);
    }
  }

  /** Read pre-copy data until the temporary end (ENOMSG or a 0-byte read). */
  readAvailable(s: SaveStream, chunk = 1 << 20): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const b = s.read(chunk);
      if (b === null || b.byteLength === 0) return concat(parts);
      parts.push(b.slice());
      total += b.byteLength;
      if (total > MAX_STREAM_BYTES) fail(`the pre-copy stream did not pause after ${total} bytes`);
    }
  }

  /**
   * The device's whole state the way a VMM saves it: through PRE_COPY (and
   * PRE_COPY_P2P) when offered, then STOP_COPY to the end. Leaves the device
   * in STOP_COPY.
   */
  saveState(options: { preCopy?: boolean } = {}): Uint8Array {
    const f = this.mig.features;
    if (this.mig.state() !== "RUNNING") this.goTo("RUNNING", "saving the state");
    if (f.preCopy && options.preCopy !== false) {
      const s = this.saveStream(this.goTo("PRE_COPY", "saving the state"), "RUNNING -> PRE_COPY");
      const parts = [this.readAvailable(s)];
      if (f.p2p) {
        this.goTo("PRE_COPY_P2P", "saving the state");
        parts.push(this.readAvailable(s));
      }
      this.goTo("STOP_COPY", "saving the state");
      parts.push(this.readToEnd(s));
      return concat(parts);
    }
    return this.readToEnd(this.saveStream(this.goTo("STOP_COPY", "saving the state"), "-> STOP_COPY"));
  }

  /** Write a stream in uneven pieces: the uAPI lets the user choose any segmentation. */
  writeAll(s: ResumeStream, data: Uint8Array): void {
    const sizes = [1, 7, 4096, 13, 65536];
    let at = 0;
    for (let k = 0; at < data.byteLength; k++) {
      const n = Math.min(sizes[k % sizes.length]!, data.byteLength - at);
      const wrote = s.write(data.subarray(at, at + n));
      if (wrote <= 0) fail(`write on the resume fd returned ${wrote} at offset ${at}`);
      at += wrote;
    }
  }

  /** Write the device's own saved state back into it; a refusal fails the check, saying so. */
  writeOwnState(s: ResumeStream, data: Uint8Array): void {
    try {
      this.writeAll(s, data);
    } catch (e) {
      if (e instanceof VfioError) fail(`the device refused its own ${data.byteLength}-byte saved state while it was written: ${e.code} (${e.detail || e.meaning})`);
      throw e;
    }
  }

  /** Close every data fd this check opened (already-closed fds are fine). */
  closeStreams(): void {
    for (const s of this.open) {
      try {
        s.close();
      } catch {
        // closed by the check itself
      }
    }
    this.open.clear();
  }

  /**
   * Bring the device back to RUNNING with no session and logging stopped, so
   * each check starts from the state a freshly opened device is in. Reset is
   * the last resort (the only way out of ERROR, and out of a RESUMING whose
   * data is incomplete).
   */
  restore(): void {
    this.closeStreams();
    const log = this.device.dmaLogging;
    if (log) {
      try {
        log.stop();
      } catch {
        // stopping logging that is not running may be refused; either way it is off
      }
    }
    const m = this.device.migration;
    if (!m) return;
    const state = m.state();
    if (state === "RUNNING") return;
    if (state !== "ERROR") {
      try {
        m.set("RUNNING");
        return;
      } catch (e) {
        if (!(e instanceof VfioError)) throw e;
      }
    }
    try {
      this.device.reset();
    } catch (e) {
      if (e instanceof VfioError) fail(`the device is in ${m.state()} and cannot be brought back to RUNNING: ${e.message}`);
      throw e;
    }
    if (m.state() !== "RUNNING") fail(`after VFIO_DEVICE_RESET the device reports ${m.state()}, not RUNNING`);
  }
}
