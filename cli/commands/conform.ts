import { CommanderError, type Command } from "commander";
import { lab } from "../../kernel-lib/backends/emu.js";
import { createNativeBackend } from "../../kernel-lib/backends/native/index.js";
import { isGroupDeviceName, parseDeviceArg, parseLocator, runConformance } from "../../kernel-lib/conformance/index.js";
import { reportTable } from "../../kernel-lib/display/conformance-report.js";
import type { ConformanceTarget, DeviceLocator } from "../../kernel-lib/conformance/index.js";
import { UsageError } from "../errors.js";

interface ConformOptions {
  device?: string;
  vfio?: string;
  group?: string;
  bdf?: string;
  peer?: string;
  seed?: string;
  only?: string;
  json?: boolean;
  probeBlockedArcs?: boolean;
}

function parseUint(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} must be a non-negative integer, not "${text}"`);
  return Number(text);
}

function rangeToUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
}

/** The one target the options name; every inconsistent combination is a usage error. */
function targetOf(o: ConformOptions): ConformanceTarget {
  const real = o.vfio !== undefined || o.group !== undefined || o.bdf !== undefined;
  if (o.device !== undefined && real) throw new UsageError("give either --device (an emulated model) or --vfio / --group with --bdf (a real device), not both");
  if (o.device === undefined && !real) throw new UsageError("name a device: --device nic|accel|serial|faulty:RULE, --vfio /dev/vfio/devices/vfioN, or --group N --bdf ADDR");
  if (o.device !== undefined) {
    if (o.peer !== undefined) throw new UsageError("--peer names a second real device; an emulated run builds its own");
    if (o.probeBlockedArcs) throw new UsageError("--probe-blocked-arcs is for real devices; emulated runs always send those requests");
    const t = rangeToUsage(() => parseDeviceArg(o.device!));
    return o.seed !== undefined ? { ...t, seed: parseUint(o.seed, "--seed") } : t;
  }
  if (o.seed !== undefined) throw new UsageError("--seed is for emulated devices (--device)");
  let device: DeviceLocator;
  if (o.vfio !== undefined) {
    if (o.group !== undefined || o.bdf !== undefined) throw new UsageError("give either --vfio or --group with --bdf, not both");
    if (!o.vfio.startsWith("/")) throw new UsageError(`--vfio takes a cdev path such as /dev/vfio/devices/vfio0, not "${o.vfio}"`);
    device = { cdev: o.vfio };
  } else {
    if (o.group === undefined || o.bdf === undefined) throw new UsageError("--group and --bdf go together: the group number and the device's address in it");
    if (!isGroupDeviceName(o.bdf)) throw new UsageError(`--bdf takes a PCI address such as 0000:01:00.1 (or an mdev UUID), not "${o.bdf}"`);
    device = { group: parseUint(o.group, "--group"), bdf: o.bdf };
  }
  let sys;
  try {
    sys = createNativeBackend();
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e), 1);
  }
  return { kind: "device", sys, device, ...(o.peer !== undefined ? { peer: rangeToUsage(() => parseLocator(o.peer!)) } : {}) };
}

export function registerConform(program: Command): void {
  program
    .command("conform")
    .description("run the migration conformance suite on a device: every FSM arc its flags allow, data sessions, PRECOPY_INFO, MIG_DATA_SIZE, ERROR and reset, DMA logging, and (emulated devices) what the hardware really did")
    .option("--device <name>", `an emulated device: nic, accel, serial, or faulty:RULE[:MODEL] (rules: ${lab.FAULT_RULES.join(", ")}; MODEL defaults to nic)`)
    .option("--vfio <path>", "a real device's cdev, e.g. /dev/vfio/devices/vfio0 (bound to a new iommufd)")
    .option("--group <n>", "a real device's IOMMU group number (with --bdf; opened through a type1v2 container)")
    .option("--bdf <addr>", "the real device's PCI address in --group, e.g. 0000:01:00.1")
    .option("--peer <device>", "a second real device to resume the saved state into: a cdev path or GROUP:BDF")
    .option("--seed <n>", "seed of the emulated machine (default 1)")
    .option("--only <prefixes>", "run only checks whose id starts with one of these comma-separated prefixes, e.g. fsm.,lab.")
    .option("--probe-blocked-arcs", "real devices: also send STOP_COPY -> PRE_COPY (kernels before the 2026 fix spin forever on it)")
    .option("--json", 'print {"device", "flags", "checks": [{"id", "status", "detail"}], "passed", "failed", "skipped"}')
    .exitOverride((err) => {
      // commander's own usage errors (unknown option, missing value) exit 2 like ours; help and version stay 0
      throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
    })
    .action((opts: ConformOptions) => {
      const target = targetOf(opts);
      const only = opts.only?.split(",").map((s) => s.trim()).filter(Boolean);
      let report;
      try {
        report = runConformance(target, { ...(only ? { only } : {}), probeBlockedArcs: opts.probeBlockedArcs === true });
      } catch (e) {
        // an emulated device that cannot be built, or a real one that cannot be opened
        if (e instanceof Error && !(e instanceof UsageError) && target.kind === "emulated") throw new UsageError(`cannot build the emulated device: ${e.message}`, 1);
        throw e;
      }
      if (only && report.checks.length === 0) throw new UsageError(`no check id starts with ${only.join(" or ")}`);
      process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + "\n" : reportTable(report));
      if (report.failed > 0) process.exitCode = 1;
    });
}
