/** Device DMA logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_*): the core's argument rules and the report's semantics. */
import { supportedStates } from "../../../hw-emu/uapi/migration-fsm.js";
import type { DmaLogging } from "../../vfio/dma-logging.js";
import { needsLogging, type Check } from "../check.js";
import { fail, type CheckContext } from "../context.js";
import { RAM_IOVA, RAM_SIZE } from "../lab-env.js";
import { dmaWorker } from "../lab-guest.js";
import { FEATURE_FLAG, FEATURE_INDEX, rawFeature } from "../raw.js";

const PAGE = 4096;
/** The most ranges the core guarantees to accept: PAGE_SIZE / sizeof(range), on 4 KiB-page hosts. */
const MAX_RANGES = PAGE / 16;
/** Logged IOVA space: guest RAM on the emulator, any range on a real device (no DMA is made there). */
const LOG = { iova: BigInt(RAM_IOVA), length: BigInt(RAM_SIZE) };

function logOf(ctx: CheckContext): DmaLogging {
  const l = ctx.device.dmaLogging;
  if (!l) throw new Error("the planner runs logging checks only on devices that log");
  return l;
}

const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** The errno a START with these ranges gets (stopping again if it was taken). */
function startErrno(ctx: CheckContext, ranges: { iova: bigint; length: bigint }[], pageSize = PAGE): string {
  const log = logOf(ctx);
  const e = ctx.errno(() => log.start(ranges, pageSize));
  if (e === "ok") log.stop();
  return e;
}

const absent: Check = {
  id: "dmalog.enotty-without",
  description: "a device without DMA logging answers ENOTTY to the logging features (how QEMU detects it)",
  applies: (c) => (c.dmaLogging ? "the device has DMA logging" : null),
  run(ctx) {
    const probe = rawFeature(ctx.device.sys, ctx.device.fd, FEATURE_INDEX.DMA_LOGGING_START, FEATURE_FLAG.SET | FEATURE_FLAG.PROBE);
    if (probe !== "ENOTTY") fail(`PROBE of DMA_LOGGING_START gave ${probe}, not ENOTTY`);
    const stop = rawFeature(ctx.device.sys, ctx.device.fd, FEATURE_INDEX.DMA_LOGGING_STOP, FEATURE_FLAG.SET);
    if (stop !== "ENOTTY") fail(`DMA_LOGGING_STOP gave ${stop}, not ENOTTY`);
    return "PROBE START: ENOTTY; STOP: ENOTTY";
  },
};

const startStop: Check = {
  id: "dmalog.start-stop",
  description: "START returns the page size the device chose (a power of two), REPORT works while logging, and logging restarts after STOP",
  applies: needsLogging,
  run(ctx) {
    const log = logOf(ctx);
    const chosen = log.start([LOG], PAGE);
    if (!isPow2(chosen)) fail(`START chose page size ${chosen}, not a power of two`);
    log.report(LOG.iova, LOG.length, PAGE);
    log.stop();
    const again = ctx.errno(() => log.start([LOG], PAGE));
    if (again !== "ok") fail(`START after STOP failed with ${again}`);
    log.stop();
    return `page size ${chosen}`;
  },
};

const zeroRanges: Check = {
  id: "dmalog.zero-ranges",
  description: "START with num_ranges 0 is EINVAL",
  applies: needsLogging,
  run(ctx) {
    const e = startErrno(ctx, []);
    if (e !== "EINVAL") fail(`START with no ranges gave ${e}, not EINVAL`);
    return "EINVAL";
  },
};

const e2big: Check = {
  id: "dmalog.e2big",
  description: `START with more than ${MAX_RANGES} ranges (PAGE_SIZE / 16 on a 4 KiB-page host) is E2BIG`,
  applies: needsLogging,
  run(ctx) {
    const ranges = Array.from({ length: MAX_RANGES + 1 }, (_, i) => ({ iova: LOG.iova + BigInt(i * 2 * PAGE), length: BigInt(PAGE) }));
    const e = startErrno(ctx, ranges);
    if (e !== "E2BIG") fail(`START with ${ranges.length} ranges gave ${e}, not E2BIG`);
    const ok = startErrno(ctx, ranges.slice(0, MAX_RANGES));
    if (ok !== "ok") fail(`START with ${MAX_RANGES} ranges (the guaranteed minimum) failed with ${ok}`);
    return `${MAX_RANGES + 1} ranges: E2BIG; ${MAX_RANGES}: ok`;
  },
};

const alignment: Check = {
  id: "dmalog.alignment",
  description: "START with a range whose iova or length is not a multiple of page_size is EINVAL",
  applies: needsLogging,
  run(ctx) {
    const cases: [string, { iova: bigint; length: bigint }][] = [
      ["iova", { iova: LOG.iova + 0x800n, length: BigInt(PAGE) }],
      ["length", { iova: LOG.iova, length: BigInt(PAGE + 0x800) }],
    ];
    for (const [what, r] of cases) {
      const e = startErrno(ctx, [r]);
      if (e !== "EINVAL") fail(`START with an unaligned ${what} gave ${e}, not EINVAL`);
    }
    return "unaligned iova: EINVAL; unaligned length: EINVAL";
  },
};

const overlap: Check = {
  id: "dmalog.overlap",
  description: "START with overlapping ranges is EINVAL",
  applies: needsLogging,
  run(ctx) {
    const e = startErrno(ctx, [
      { iova: LOG.iova, length: BigInt(2 * PAGE) },
      { iova: LOG.iova + BigInt(PAGE), length: BigInt(2 * PAGE) },
    ]);
    if (e !== "EINVAL") fail(`START with overlapping ranges gave ${e}, not EINVAL`);
    return "EINVAL";
  },
};

const doubleStart: Check = {
  id: "dmalog.double-start",
  description: "a second START without STOP (which the uAPI forbids) leaves the first session working: REPORT and STOP still succeed",
  applies: needsLogging,
  run(ctx) {
    const log = logOf(ctx);
    log.start([LOG], PAGE);
    const e = ctx.errno(() => log.start([LOG], PAGE));
    const report = ctx.errno(() => log.report(LOG.iova, LOG.length, PAGE));
    if (report !== "ok") fail(`after a second START (${e === "ok" ? "accepted" : e}) REPORT failed with ${report}`);
    const stop = ctx.errno(() => log.stop());
    if (stop !== "ok") fail(`after a second START (${e === "ok" ? "accepted" : e}) STOP failed with ${stop}`);
    return e === "ok" ? "the second START was accepted (the driver does not enforce the rule, as mtty does not); logging still works" : `the second START was refused with ${e}; logging still works`;
  },
};

const reportPageSize: Check = {
  id: "dmalog.report-page-size",
  description: "REPORT with a page size below 4096 or not a power of two is EINVAL",
  applies: needsLogging,
  run(ctx) {
    const log = logOf(ctx);
    log.start([LOG], PAGE);
    for (const ps of [2048, 3 * PAGE]) {
      const e = ctx.errno(() => log.report(LOG.iova, LOG.length, ps));
      if (e !== "EINVAL") fail(`REPORT at page size ${ps} gave ${e}, not EINVAL`);
    }
    return "2048: EINVAL; 12288: EINVAL";
  },
};

const conversion: Check = {
  id: "dmalog.report-conversion",
  description: "REPORT accepts page sizes other than START's, finer and coarser (the driver converts)",
  applies: needsLogging,
  run(ctx) {
    const log = logOf(ctx);
    const chosen = log.start([LOG], 2 * PAGE);
    const sizes = [chosen / 2, chosen * 2, chosen * 16].filter((p) => p >= PAGE);
    for (const ps of sizes) {
      const e = ctx.errno(() => log.report(LOG.iova, LOG.length, ps));
      if (e !== "ok") fail(`REPORT at page size ${ps} (logging at ${chosen}) failed with ${e}`);
    }
    return `logging at ${chosen}; reports at ${sizes.join(", ")} accepted`;
  },
};

const readAndClear: Check = {
  id: "dmalog.read-and-clear",
  description: "REPORT clears what it reports: a second REPORT with no DMA in between is empty",
  applies: needsLogging,
  run(ctx, caps) {
    const log = logOf(ctx);
    log.start([LOG], PAGE);
    // with the lab, give the device something to log first
    const worker = caps.lab && caps.dma ? dmaWorker(ctx.lab) : null;
    if (worker) {
      worker.prepare();
      worker.kick(1);
      ctx.lab.advance();
    }
    ctx.goTo("STOP", "stopping the device so it cannot DMA between the reports");
    const first = log.report(LOG.iova, LOG.length, PAGE).count();
    const second = log.report(LOG.iova, LOG.length, PAGE).count();
    if (second !== 0) fail(`the second REPORT still had ${second} dirty page(s) after the first reported ${first}`);
    return `first REPORT ${first} page(s), second 0`;
  },
};

const anyState: Check = {
  id: "dmalog.any-state",
  description: "logging starts and stops in every migration state (it is independent of the FSM)",
  applies: (c) => needsLogging(c) ?? (c.migration ? null : "the device has no migration states to try"),
  run(ctx, caps) {
    const log = logOf(ctx);
    for (const s of supportedStates(caps.flags)) {
      ctx.restore();
      ctx.goTo(s, `reaching ${s}`);
      const a = ctx.errno(() => log.start([LOG], PAGE));
      if (a !== "ok") fail(`START in ${s} failed with ${a}`);
      const b = ctx.errno(() => log.stop());
      if (b !== "ok") fail(`STOP in ${s} failed with ${b}`);
    }
    return supportedStates(caps.flags).join(", ");
  },
};

export const dmalogChecks: Check[] = [absent, startStop, zeroRanges, e2big, alignment, overlap, doubleStart, reportPageSize, conversion, readAndClear, anyState];
