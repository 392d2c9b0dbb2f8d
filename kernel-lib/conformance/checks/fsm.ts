/**
 * The state machine: every direct arc the flags allow, every (from, to) pair
 * through the kernel's path, requests that must be refused, the same-state
 * no-op, the failed-SET write-back, and ERROR.
 */
import { VFIO_MIGRATION, type MigStateName } from "../../../hw-emu/uapi/index.js";
import { SAVING_GROUP, STATE_VALUE, directArcs, pathTo, supportedStates, stateSupported } from "../../../hw-emu/uapi/migration-fsm.js";
import { VfioError } from "../../vfio/errors.js";
import { MigrationError, SaveStream } from "../../vfio/migration.js";
import { needsMigration, needsPreCopy, type Capabilities, type Check } from "../check.js";
import { describeSetError, fail, skip, type CheckContext } from "../context.js";
import { rawSetState } from "../raw.js";

/** Whether the single arc from -> to opens a new data session (and so returns a data fd). */
export function arcStartsSession(from: MigStateName, to: MigStateName): boolean {
  return (SAVING_GROUP.has(to) && !SAVING_GROUP.has(from)) || (to === "RESUMING" && from !== "RESUMING");
}

/** Whether a SET from -> to (any path) returns a data fd: saving states and RESUMING appear only at path ends. */
export const requestStartsSession = arcStartsSession;

export function flagNames(flags: number): string {
  if (!(flags & VFIO_MIGRATION.bits.STOP_COPY)) return flags ? `0x${flags.toString(16)}` : "none";
  return ["STOP_COPY", flags & VFIO_MIGRATION.bits.P2P ? "P2P" : "", flags & VFIO_MIGRATION.bits.PRE_COPY ? "PRE_COPY" : ""].filter(Boolean).join(",");
}

/**
 * Put the device in `state`. RESUMING is entered with the device's own saved
 * state written (`resumeData`), so that leaving it (RESUMING -> STOP loads and
 * validates) is a fair test of the arc, not of an empty stream.
 */
function reach(ctx: CheckContext, state: MigStateName, resumeData: Uint8Array | null): void {
  const r = ctx.goTo(state, `reaching ${state}`);
  if (state === "RESUMING" && resumeData) ctx.writeOwnState(ctx.resumeStream(r, "-> RESUMING"), resumeData);
}

function walkMismatch(ctx: CheckContext, since: number, expected: readonly MigStateName[]): string | null {
  const lab = ctx.subject.lab;
  if (!lab) return null;
  const walked = lab.walkedSince(since);
  return walked.join(",") === expected.join(",") ? null : `the kernel walked ${walked.join(" -> ") || "nothing"}, its table gives ${expected.join(" -> ")}`;
}

function arcCheck(from: MigStateName, to: MigStateName): Check {
  const opens = arcStartsSession(from, to);
  return {
    id: `fsm.arc ${from}->${to}`,
    description: `the direct arc ${from} -> ${to} succeeds, GET then reports ${to}, and a data fd comes back ${opens ? "(a new session starts)" : "only with a new session (none here)"}`,
    run(ctx) {
      const own = from === "RESUMING" ? ctx.saveState({ preCopy: false }) : null;
      reach(ctx, from, own);
      const since = ctx.subject.lab?.arcCount() ?? 0;
      let r;
      try {
        r = ctx.set(to);
      } catch (e) {
        fail(describeSetError(e, from, to));
      }
      const now = ctx.mig.state();
      if (now !== to) fail(`after ${from} -> ${to} succeeded, GET reports ${now}`);
      if (opens && !r.data) fail(`${from} -> ${to} starts a data session but returned data_fd -1`);
      if (!opens && r.data) fail(`${from} -> ${to} returned data fd ${r.data.fd}, but the arc starts no session`);
      const walk = walkMismatch(ctx, since, [from, to]);
      if (walk) fail(walk);
      return opens ? `new data fd ${r.data!.fd}` : "no data fd";
    },
  };
}

const pathsCheck: Check = {
  id: "fsm.paths",
  description: "every supported (from, to) pair reaches its target by the kernel's path, with a data fd exactly when a session starts",
  applies: needsMigration,
  run(ctx, caps) {
    const states = supportedStates(caps.flags);
    const own = states.includes("RESUMING") ? ctx.saveState({ preCopy: false }) : null;
    const problems: string[] = [];
    let pairs = 0;
    for (const from of states) {
      for (const to of states) {
        if (from === to) continue;
        const planned = pathTo(caps.flags, from, to);
        if (!planned.ok) continue; // the blocked arcs: fsm.blocked covers them
        pairs++;
        ctx.restore();
        reach(ctx, from, own);
        const since = ctx.subject.lab?.arcCount() ?? 0;
        let r;
        try {
          r = ctx.set(to);
        } catch (e) {
          problems.push(describeSetError(e, from, to));
          continue;
        }
        const now = ctx.mig.state();
        if (now !== to) problems.push(`${from} -> ${to}: GET reports ${now}`);
        const opens = requestStartsSession(from, to);
        if (opens !== (r.data !== null)) problems.push(`${from} -> ${to}: ${opens ? "no data fd, though a session starts" : "a data fd, though no session starts"}`);
        const walk = walkMismatch(ctx, since, planned.path);
        if (walk) problems.push(`${from} -> ${to}: ${walk}`);
      }
    }
    if (problems.length) fail(`${problems.length} of ${pairs} pairs went wrong: ${problems.slice(0, 3).join("; ")}${problems.length > 3 ? "; ..." : ""}`);
    return `${pairs} pairs${ctx.subject.lab ? ", each path as the kernel's table gives it" : ""}`;
  },
};

const sameStateCheck: Check = {
  id: "fsm.same-state",
  description: "SET to the current state succeeds with data_fd -1 and leaves any open session working",
  applies: needsMigration,
  run(ctx, caps) {
    const seen: string[] = [];
    for (const s of supportedStates(caps.flags)) {
      ctx.restore();
      const r = ctx.goTo(s, `reaching ${s}`);
      const raw = rawSetState(ctx.device.sys, ctx.device.fd, STATE_VALUE[s]);
      if (raw.errno !== "ok") fail(`SET ${s} while in ${s} failed with ${raw.errno}`);
      if (raw.dataFd !== -1) fail(`SET ${s} while in ${s} returned data_fd ${raw.dataFd}, not -1`);
      const now = ctx.mig.state();
      if (now !== s) fail(`SET ${s} while in ${s}: GET then reports ${now}`);
      const data = r.data;
      if (data instanceof SaveStream) {
        const e = ctx.errno(() => data.read(1));
        if (e === "ENODEV") fail(`SET ${s} while in ${s} ended the open save session (read: ENODEV)`);
      }
      seen.push(s);
    }
    return seen.join(", ");
  },
};

const invalidTargetsCheck: Check = {
  id: "fsm.invalid-targets",
  description: "SET of ERROR, of values >= 8 and of states the flags lack is EINVAL and leaves the state unchanged",
  applies: needsMigration,
  run(ctx, caps) {
    const requests: [string, number][] = [
      ["ERROR", 0],
      ["8", 8],
      ["0xffffffff", 0xffff_ffff],
    ];
    for (const [name, v] of Object.entries(STATE_VALUE)) if (name !== "ERROR" && !stateSupported(caps.flags, name as MigStateName)) requests.push([name, v]);
    for (const [name, v] of requests) {
      const raw = rawSetState(ctx.device.sys, ctx.device.fd, v);
      if (raw.errno !== "EINVAL") fail(`SET ${name} from RUNNING gave ${raw.errno}, not EINVAL`);
      const now = ctx.mig.state();
      if (now !== "RUNNING") fail(`the refused SET ${name} moved the device from RUNNING to ${now}`);
    }
    return requests.map(([n]) => n).join(", ");
  },
};

const writebackCheck: Check = {
  id: "fsm.failed-set-writeback",
  description: "a failed SET writes back the requested state and data_fd -1 (only a GET tells where the device is)",
  applies: needsMigration,
  run(ctx) {
    const raw = rawSetState(ctx.device.sys, ctx.device.fd, 8, 0x5a5a);
    if (raw.errno === "ok") fail("SET of state value 8 succeeded");
    if (raw.deviceState !== 8) fail(`after the failed SET the struct holds device_state ${raw.deviceState}, not the requested 8`);
    if (raw.dataFd !== -1) fail(`after the failed SET the struct holds data_fd ${raw.dataFd}, not -1`);
    return `${raw.errno}; device_state 8, data_fd -1 written back`;
  },
};

const blockedCheck: Check = {
  id: "fsm.blocked",
  description: "STOP_COPY -> PRE_COPY (and -> PRE_COPY_P2P) is EINVAL; the device stays in STOP_COPY and its session keeps streaming",
  applies: needsPreCopy,
  run(ctx, caps) {
    if (!ctx.subject.probeBlockedArcs) skip("kernels before the 2026 fix spin forever on this request; opt in to send it");
    const targets: MigStateName[] = caps.p2p ? ["PRE_COPY", "PRE_COPY_P2P"] : ["PRE_COPY"];
    for (const t of targets) {
      ctx.restore();
      const s = ctx.saveStream(ctx.goTo("STOP_COPY", "reaching STOP_COPY"), "-> STOP_COPY");
      try {
        ctx.set(t);
        fail(`STOP_COPY -> ${t} succeeded`);
      } catch (e) {
        if (!(e instanceof MigrationError)) throw e;
        if (e.code !== "EINVAL") fail(`STOP_COPY -> ${t} failed with ${e.code}, not EINVAL`);
        if (e.reached !== "STOP_COPY") fail(`the refused STOP_COPY -> ${t} left the device in ${e.reached}`);
      }
      const e = ctx.errno(() => s.read(64));
      if (e !== "ok") fail(`after the refused STOP_COPY -> ${t} the save fd read gives ${e}`);
    }
    return targets.map((t) => `STOP_COPY -> ${t}: EINVAL`).join("; ");
  },
};

const errorStateCheck: Check = {
  id: "fsm.error-state",
  description: "a failed arc leaves a state on its path or ERROR (GET tells which); from ERROR only ERROR -> ERROR and reset work",
  applies: needsMigration,
  run(ctx, caps) {
    // A resume with half of the device's own state must fail at RESUMING -> STOP.
    const own = ctx.saveState({ preCopy: false });
    const r = ctx.goTo("RESUMING", "reaching RESUMING");
    const w = ctx.resumeStream(r, "-> RESUMING");
    try {
      ctx.writeAll(w, own.subarray(0, own.byteLength >> 1));
    } catch (e) {
      // refusing the data while it is written is allowed; the arc below must still fail
      if (!(e instanceof VfioError)) throw e;
    }
    let reached: MigStateName;
    try {
      ctx.set("STOP");
      skip("the device accepted half of its own state at RESUMING -> STOP, so no arc could be made to fail (resume.rejects-truncated reports this)");
    } catch (e) {
      if (!(e instanceof MigrationError)) throw e;
      reached = e.reached;
    }
    if (reached !== "RESUMING" && reached !== "STOP" && reached !== "ERROR") fail(`the failed RESUMING -> STOP left the device in ${reached}, which is neither on the path nor ERROR`);
    if (reached !== "ERROR") return `the failed RESUMING -> STOP left the device in ${reached} (it did not enter ERROR, so the ERROR rules were not exercised)`;
    const again = rawSetState(ctx.device.sys, ctx.device.fd, STATE_VALUE.ERROR);
    if (again.errno !== "ok") fail(`SET ERROR while in ERROR failed with ${again.errno}; it is a same-state no-op`);
    for (const s of supportedStates(caps.flags)) {
      const raw = rawSetState(ctx.device.sys, ctx.device.fd, STATE_VALUE[s]);
      if (raw.errno !== "EINVAL") fail(`SET ${s} while in ERROR gave ${raw.errno}, not EINVAL`);
      if (ctx.mig.state() !== "ERROR") fail(`SET ${s} while in ERROR moved the device to ${ctx.mig.state()}`);
    }
    const reset = ctx.errno(() => ctx.device.reset());
    if (reset !== "ok") {
      if (caps.reset) fail(`GET_INFO advertises reset, but VFIO_DEVICE_RESET from ERROR failed with ${reset}`);
      return "the failed arc left ERROR and every SET but ERROR was refused; the device has no reset to leave it";
    }
    const after = ctx.mig.state();
    if (after !== "RUNNING") fail(`VFIO_DEVICE_RESET from ERROR left the device in ${after}, not RUNNING`);
    return "the failed arc left ERROR; every SET but ERROR was refused; reset returned RUNNING";
  },
};

const initialCheck: Check = {
  id: "fsm.initial-running",
  description: "a freshly opened device reports RUNNING",
  applies: needsMigration,
  run(ctx) {
    const s = ctx.subject.initialState;
    if (s !== "RUNNING") fail(`the device reported ${s} when first opened`);
    return "RUNNING";
  },
};

export const flagsCheck: Check = {
  id: "migration.flags",
  description: "GET MIGRATION gives a legal flag set: STOP_COPY, optionally with P2P and PRE_COPY",
  run(_ctx, caps) {
    if (!caps.migration) fail("the device has no migration support (GET MIGRATION was refused)");
    const known = VFIO_MIGRATION.bits.STOP_COPY | VFIO_MIGRATION.bits.P2P | VFIO_MIGRATION.bits.PRE_COPY;
    if (!(caps.flags & VFIO_MIGRATION.bits.STOP_COPY)) fail(`flags 0x${caps.flags.toString(16)} lack the mandatory STOP_COPY`);
    if (caps.flags & ~known) fail(`flags 0x${caps.flags.toString(16)} have bits the uAPI does not define`);
    return flagNames(caps.flags);
  },
};

/** The FSM checks for a device with these capabilities, in the order they run. */
export function fsmChecks(caps: Capabilities): Check[] {
  const arcs = caps.migration ? directArcs(caps.flags).map(([a, b]) => arcCheck(a, b)) : [];
  return [flagsCheck, initialCheck, ...arcs, pathsCheck, sameStateCheck, invalidTargetsCheck, writebackCheck, blockedCheck, errorStateCheck];
}
