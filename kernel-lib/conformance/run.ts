/**
 * The suite runner: plan the checks the device's capabilities call for, run
 * each from a clean RUNNING state, and collect pass / fail / skip with a reason.
 */
import { VfioError } from "../vfio/errors.js";
import type { Capabilities, Check } from "./check.js";
import { dmalogChecks } from "./checks/dmalog.js";
import { flagNames, fsmChecks } from "./checks/fsm.js";
import { labChecks } from "./checks/lab.js";
import { precopyChecks } from "./checks/precopy.js";
import { resetChecks } from "./checks/reset.js";
import { resumeChecks } from "./checks/resume.js";
import { sessionChecks } from "./checks/session.js";
import { CheckContext, CheckFailure, CheckSkipped, type Subject } from "./context.js";
import { openSubject } from "./subject.js";
import type { CheckResult, ConformanceOptions, ConformanceReport, ConformanceTarget } from "./types.js";

export function capabilities(subject: Subject): Capabilities {
  const m = subject.device.migration;
  const f = m?.features ?? { stopCopy: false, p2p: false, preCopy: false };
  const model = subject.lab?.model ?? null;
  return {
    flags: m?.flags ?? 0,
    migration: m !== null,
    stopCopy: f.stopCopy,
    p2p: f.p2p,
    preCopy: f.preCopy,
    dmaLogging: subject.device.dmaLogging !== null,
    reset: subject.device.info().reset,
    lab: subject.lab !== null,
    dma: model?.traits.dma ?? false,
    p2pInitiator: model?.traits.p2pInitiator ?? false,
    peerTarget: model?.kind === "nic-vf",
  };
}

/** Every check for a device with these capabilities, in the order they run. */
export function planChecks(caps: Capabilities): Check[] {
  return [...fsmChecks(caps), ...sessionChecks, ...precopyChecks, ...resumeChecks, ...resetChecks, ...dmalogChecks, ...labChecks];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function runCheck(ctx: CheckContext, check: Check, caps: Capabilities): CheckResult {
  const result = (status: CheckResult["status"], detail: string): CheckResult => ({ id: check.id, description: check.description, status, detail });
  if (check.needsLab && !caps.lab) return result("skip", "needs the lab (emulated hardware); a real device cannot be watched this way");
  const why = check.applies?.(caps) ?? null;
  if (why) return result("skip", why);
  try {
    ctx.restore();
  } catch (e) {
    if (e instanceof CheckFailure || e instanceof VfioError) return result("fail", `could not bring the device back to RUNNING before the check: ${e.message}`);
    throw e;
  }
  try {
    return result("pass", check.run(ctx, caps));
  } catch (e) {
    if (e instanceof CheckSkipped) return result("skip", e.message);
    if (e instanceof CheckFailure || e instanceof VfioError) return result("fail", e.message);
    return result("fail", `unexpected error: ${message(e)}`);
  } finally {
    ctx.closeStreams();
  }
}

function matches(id: string, only: readonly string[] | undefined): boolean {
  return !only || only.length === 0 || only.some((p) => id.startsWith(p));
}

/** Run the suite on a Subject already open (the caller closes it). */
export function runOnSubject(subject: Subject, options: ConformanceOptions = {}): ConformanceReport {
  const caps = capabilities(subject);
  const ctx = new CheckContext(subject);
  const checks: CheckResult[] = [];
  for (const c of planChecks(caps)) {
    if (!matches(c.id, options.only)) continue;
    const r = runCheck(ctx, c, caps);
    checks.push(r);
    options.onResult?.(r);
  }
  try {
    ctx.restore();
  } catch {
    // leaving the device as the last check left it; its result already says why
  }
  const count = (s: CheckResult["status"]) => checks.filter((c) => c.status === s).length;
  return {
    device: subject.name,
    flags: flagNames(caps.flags),
    dmaLogging: caps.dmaLogging,
    lab: caps.lab,
    checks,
    passed: count("pass"),
    failed: count("fail"),
    skipped: count("skip"),
  };
}

/**
 * Drive a device through every arc its flags allow and check the data fd
 * sessions, PRECOPY_INFO, MIG_DATA_SIZE, ERROR and reset, DMA logging and, on
 * the emulator, what the hardware really did.
 *
 * @example runConformance({ kind: "emulated", model: "nic" }).failed === 0
 */
export function runConformance(target: ConformanceTarget, options: ConformanceOptions = {}): ConformanceReport {
  const subject = openSubject(target, options);
  try {
    return runOnSubject(subject, options);
  } finally {
    subject.close();
  }
}
