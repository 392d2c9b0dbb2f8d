/** VFIO_MIG_GET_PRECOPY_INFO and VFIO_DEVICE_FEATURE_MIG_DATA_SIZE. */
import { supportedStates } from "../../../hw-emu/uapi/migration-fsm.js";
import { vfio_precopy_info } from "../../../hw-emu/uapi/index.js";
import { needsMigration, needsPreCopy, type Check } from "../check.js";
import { fail } from "../context.js";
import { rawPrecopyInfo } from "../raw.js";

const einvalOutside: Check = {
  id: "precopy.einval-outside",
  description: "PRECOPY_INFO is EINVAL outside PRE_COPY and PRE_COPY_P2P, STOP_COPY included",
  applies: needsMigration,
  run(ctx, caps) {
    const seen: string[] = [];
    // a STOP_COPY session opened from STOP
    const s = ctx.saveStream(ctx.goTo("STOP_COPY"), "-> STOP_COPY");
    const a = ctx.errno(() => s.precopyInfo());
    // a driver without PRE_COPY may have no such ioctl at all
    const allowed = caps.preCopy ? ["EINVAL"] : ["EINVAL", "ENOTTY"];
    if (!allowed.includes(a)) fail(`PRECOPY_INFO in STOP_COPY (session from STOP) gave ${a}, not ${allowed.join(" or ")}`);
    seen.push(`STOP_COPY from STOP: ${a}`);
    if (caps.preCopy) {
      ctx.restore();
      const p = ctx.saveStream(ctx.goTo("PRE_COPY"), "-> PRE_COPY");
      const ok = ctx.errno(() => p.precopyInfo());
      if (ok !== "ok") fail(`PRECOPY_INFO in PRE_COPY failed with ${ok}`);
      ctx.goTo("STOP_COPY");
      const b = ctx.errno(() => p.precopyInfo());
      if (b !== "EINVAL") fail(`PRECOPY_INFO in STOP_COPY (session from PRE_COPY) gave ${b}, not EINVAL`);
      seen.push(`STOP_COPY from PRE_COPY: ${b}`);
    }
    return seen.join("; ");
  },
};

const argsz: Check = {
  id: "precopy.argsz",
  description: `PRECOPY_INFO with argsz below ${vfio_precopy_info.size} is EINVAL`,
  applies: needsPreCopy,
  run(ctx) {
    const s = ctx.saveStream(ctx.goTo("PRE_COPY"), "-> PRE_COPY");
    const e = rawPrecopyInfo(ctx.device.sys, s.fd, vfio_precopy_info.size - 8);
    if (e !== "EINVAL") fail(`argsz ${vfio_precopy_info.size - 8} gave ${e}, not EINVAL`);
    const ok = rawPrecopyInfo(ctx.device.sys, s.fd, vfio_precopy_info.size);
    if (ok !== "ok") fail(`argsz ${vfio_precopy_info.size} failed with ${ok}`);
    return `argsz ${vfio_precopy_info.size - 8}: EINVAL; argsz ${vfio_precopy_info.size}: ok`;
  },
};

const initialDecreases: Check = {
  id: "precopy.initial-decreases",
  description: "initial_bytes only decreases as pre-copy data is read, and is 0 when reads reach the temporary end (ENOMSG or 0)",
  applies: needsPreCopy,
  run(ctx) {
    const s = ctx.saveStream(ctx.goTo("PRE_COPY"), "-> PRE_COPY");
    const first = s.precopyInfo();
    let last = first.initialBytes;
    const chunk = Math.max(4096, Number(first.initialBytes / 32n));
    let reads = 0;
    let total = 0;
    let end: "ENOMSG" | "0" | null = null;
    while (end === null) {
      const b = s.read(chunk);
      reads++;
      if (b === null) end = "ENOMSG";
      else if (b.byteLength === 0) end = "0";
      else total += b.byteLength;
      const info = s.precopyInfo();
      if (info.initialBytes > last) fail(`initial_bytes grew from ${last} to ${info.initialBytes} after read ${reads}`);
      if (end !== null && info.initialBytes !== 0n) fail(`the read at the temporary end (${end}) came with initial_bytes still ${info.initialBytes}`);
      last = info.initialBytes;
      if (reads > 1_000_000) fail("pre-copy reads never reached a temporary end");
    }
    const note = first.initialBytes === 0n ? " (initial_bytes started at 0; the uAPI expects it to start non-zero)" : "";
    return `${first.initialBytes} -> 0 over ${total} bytes in ${reads} reads; temporary end: ${end}${note}`;
  },
};

const dirtyStartsZero: Check = {
  id: "precopy.dirty-starts-zero",
  description: "dirty_bytes is 0 when a pre-copy session starts",
  applies: needsPreCopy,
  run(ctx) {
    const s = ctx.saveStream(ctx.goTo("PRE_COPY"), "-> PRE_COPY");
    const info = s.precopyInfo();
    if (info.dirtyBytes !== 0n) fail(`dirty_bytes is ${info.dirtyBytes} right after RUNNING -> PRE_COPY`);
    return `initial_bytes ${info.initialBytes}, dirty_bytes 0`;
  },
};

const dataSizeAnyState: Check = {
  id: "data-size.any-state",
  description: "MIG_DATA_SIZE answers in every supported state",
  applies: needsMigration,
  run(ctx, caps) {
    const sizes: string[] = [];
    for (const st of supportedStates(caps.flags)) {
      ctx.restore();
      ctx.goTo(st, `reaching ${st}`);
      let n = 0n;
      const e = ctx.errno(() => (n = ctx.mig.dataSize()));
      if (e !== "ok") fail(`MIG_DATA_SIZE in ${st} failed with ${e}`);
      sizes.push(`${st} ${n}`);
    }
    return sizes.join(", ");
  },
};

export const precopyChecks: Check[] = [einvalOutside, argsz, initialDecreases, dirtyStartsZero, dataSizeAnyState];
