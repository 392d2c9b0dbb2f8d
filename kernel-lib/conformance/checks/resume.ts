/** Resuming: a saved stream loads into a second device; incomplete or foreign data is refused. */
import { Random } from "../../../hw-emu/sim/random.js";
import { VfioError } from "../../vfio/errors.js";
import { MigrationError, ResumeStream } from "../../vfio/migration.js";
import { needsMigration, type Check } from "../check.js";
import { fail, skip, type CheckContext, type Destination } from "../context.js";

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.byteLength === b.byteLength ? -1 : n;
}

const roundTrip: Check = {
  id: "resume.round-trip",
  description: "a saved stream (pre-copy then stop-copy) resumes into a second instance (emulator: a second machine; real: --peer)",
  applies: needsMigration,
  run(ctx) {
    const open = ctx.subject.destination;
    if (!open) skip(ctx.subject.noDestination);
    const data = ctx.saveState();
    const sourceState = ctx.subject.lab?.snapshot() ?? null;
    let dst: Destination | null = null;
    try {
      dst = open();
      const m = dst.device.migration;
      if (!m) fail("the destination device has no migration support");
      let stage = "RUNNING -> RESUMING";
      try {
        const r = m.set("RESUMING");
        if (!(r.data instanceof ResumeStream)) fail("the destination's RUNNING -> RESUMING returned no resume fd");
        const w = r.data;
        stage = "it was written";
        try {
          ctx.writeAll(w, data);
          stage = "RESUMING -> STOP";
          m.set("STOP");
          const loaded = dst.snapshot?.() ?? null;
          stage = "STOP -> RUNNING";
          m.set("RUNNING");
          if (sourceState && loaded) {
            const at = firstDifference(sourceState, loaded);
            if (at >= 0) fail(`the destination accepted the ${data.byteLength}-byte stream, but its state differs from the source's at byte ${at} of ${sourceState.byteLength}`);
          }
        } finally {
          w.close();
        }
      } catch (e) {
        if (e instanceof MigrationError) fail(`the destination refused the ${data.byteLength}-byte stream at ${stage}: ${e.code} (${e.detail || e.meaning}); it is now ${e.reached}`);
        if (e instanceof VfioError) fail(`the destination refused the ${data.byteLength}-byte stream while ${stage}: ${e.code} (${e.detail || e.meaning})`);
        throw e;
      }
    } finally {
      dst?.close();
    }
    return `${data.byteLength} bytes resumed and running${sourceState ? "; the destination's state equals the source's" : ""}`;
  },
};

/** Feed `data` to the device's own resume session; returns how it was refused, or null if it was taken. */
function refusal(ctx: CheckContext, data: Uint8Array): string | null {
  ctx.restore();
  const w = ctx.resumeStream(ctx.goTo("RESUMING"), "-> RESUMING");
  try {
    ctx.writeAll(w, data);
  } catch (e) {
    if (e instanceof VfioError) return `refused while writing: ${e.code}`;
    throw e;
  }
  try {
    ctx.set("STOP");
    return null;
  } catch (e) {
    if (e instanceof MigrationError) return `refused at RESUMING -> STOP: ${e.code}, GET then ${e.reached}`;
    throw e;
  }
}

const rejectsTruncated: Check = {
  id: "resume.rejects-truncated",
  description: "a stream cut short (half of it, or all but its last byte) is refused, at a write or at RESUMING -> STOP",
  applies: needsMigration,
  run(ctx) {
    const own = ctx.saveState({ preCopy: false });
    if (own.byteLength < 2) fail(`the saved stream has ${own.byteLength} bytes; nothing to cut`);
    const out: string[] = [];
    for (const [what, len] of [
      ["half", own.byteLength >> 1],
      ["all but the last byte", own.byteLength - 1],
    ] as const) {
      const r = refusal(ctx, own.subarray(0, len));
      if (r === null) fail(`the device accepted ${what} of its ${own.byteLength}-byte state (${len} bytes) at RESUMING -> STOP`);
      out.push(`${what}: ${r}`);
    }
    return out.join("; ");
  },
};

const rejectsGarbage: Check = {
  id: "resume.rejects-garbage",
  description: "4 KiB of random bytes are refused, at a write or at RESUMING -> STOP",
  applies: needsMigration,
  run(ctx) {
    const junk = new Random(0x5eed).bytes(new Uint8Array(4096));
    const r = refusal(ctx, junk);
    if (r === null) fail("the device accepted 4 KiB of random bytes as its state");
    return r;
  },
};

export const resumeChecks: Check[] = [roundTrip, rejectsTruncated, rejectsGarbage];
