/**
 * VFIO_DEVICE_FEATURE as the VFIO core dispatches it: header checks, the
 * GET/SET/PROBE rules, and the features the core implements itself (migration,
 * migration state, data size, DMA logging). Anything else goes to the driver.
 */
import {
  Errno,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_FLAG,
  VFIO_DEVICE_FEATURE_MASK,
  vfio_device_feature,
  vfio_device_feature_dma_logging_control,
  vfio_device_feature_dma_logging_range,
  vfio_device_feature_dma_logging_report,
  vfio_device_feature_mig_data_size,
  vfio_device_feature_mig_state,
  vfio_device_feature_migration,
} from "../../uapi/index.js";
import type { IoctlArg } from "../file.js";
import type { Kernel } from "../kernel.js";
import type { LoggingRange, VfioDriver } from "./driver.js";
import type { MigrationCore } from "./migration.js";
import { STATE_VALUE, stateName } from "../../uapi/migration-fsm.js";
import { argBytes, orBitmapToUser, userBitmapWords } from "../user-args.js";

const { GET, SET, PROBE } = VFIO_DEVICE_FEATURE_FLAG.bits;
const F = VFIO_DEVICE_FEATURE.values;
const HEADER = vfio_device_feature.size;
const SYSCALL = "VFIO_DEVICE_FEATURE";
/** the core accepts at least this many logging ranges: one kernel page of them */
export const LOG_MAX_RANGES = 4096 / vfio_device_feature_dma_logging_range.size;
const U64_MAX = (1n << 64n) - 1n;

/**
 * The kernel's per-feature check. Returns "probed" when PROBE was asked (success,
 * nothing copied), else lets the operation run; throws EINVAL for an unsupported
 * direction, no direction, or a payload shorter than `minsz`.
 */
function checkFeature(name: string, flags: number, argsz: number, supported: number, minsz: number): "probed" | "run" {
  const dirs = flags & (GET | SET);
  if (dirs & ~supported) throw new Errno("EINVAL", `${name} does not support ${dirs & ~supported & GET ? "GET" : "SET"}`, SYSCALL);
  if (flags & PROBE) return "probed";
  if (!dirs) throw new Errno("EINVAL", `${name}: one of GET or SET is needed without PROBE`, SYSCALL);
  if (argsz - HEADER < minsz) throw new Errno("EINVAL", `${name} needs a ${minsz}-byte payload; argsz ${argsz} leaves ${argsz - HEADER}`, SYSCALL);
  return "run";
}

/** What VFIO_DEVICE_FEATURE needs of a device: its migration core and its driver. */
export interface FeatureTarget {
  readonly migration: MigrationCore | null;
  readonly driver: Pick<VfioDriver, "logging" | "feature">;
}

export function deviceFeature(kernel: Kernel, device: FeatureTarget, arg: IoctlArg): number {
  const bytes = argBytes(kernel.user, arg, HEADER, SYSCALL);
  const hdr = vfio_device_feature.decode(bytes);
  if (hdr.argsz < HEADER) throw new Errno("EINVAL", `argsz ${hdr.argsz} is below the 8-byte header`, SYSCALL);
  if (hdr.flags & ~(VFIO_DEVICE_FEATURE_MASK | GET | SET | PROBE)) {
    throw new Errno("EINVAL", `unknown flag bits 0x${(hdr.flags & ~(VFIO_DEVICE_FEATURE_MASK | GET | SET | PROBE)).toString(16)}`, SYSCALL);
  }
  if (!(hdr.flags & PROBE) && hdr.flags & SET && hdr.flags & GET) throw new Errno("EINVAL", "GET and SET together need PROBE", SYSCALL);
  const index = hdr.flags & VFIO_DEVICE_FEATURE_MASK;
  const payload = (n: number) => {
    if (bytes.byteLength < HEADER + n) throw new Errno("EFAULT", `the buffer ends before the ${n}-byte payload`, SYSCALL);
    return bytes.subarray(HEADER, HEADER + n);
  };
  const mig = device.migration;
  const log = device.driver.logging;

  switch (index) {
    case F.MIGRATION: {
      if (!mig) throw new Errno("ENOTTY", "the device has no migration driver", SYSCALL);
      if (checkFeature("MIGRATION", hdr.flags, hdr.argsz, GET, vfio_device_feature_migration.size) === "probed") return 0;
      payload(8).set(vfio_device_feature_migration.encode({ flags: BigInt(mig.flags) }));
      return 0;
    }
    case F.MIG_DEVICE_STATE: {
      if (!mig) throw new Errno("ENOTTY", "the device has no migration driver", SYSCALL);
      if (checkFeature("MIG_DEVICE_STATE", hdr.flags, hdr.argsz, GET | SET, vfio_device_feature_mig_state.size) === "probed") return 0;
      const p = payload(8);
      const req = vfio_device_feature_mig_state.decode(p);
      if (hdr.flags & GET) {
        p.set(vfio_device_feature_mig_state.encode({ device_state: STATE_VALUE[mig.state], data_fd: -1 }));
        return 0;
      }
      const target = stateName(req.device_state);
      try {
        if (!target) throw new Errno("EINVAL", `device_state ${req.device_state} is not a migration state`, SYSCALL);
        const session = mig.setState(target);
        const fd = session ? kernel.install(session.file) : -1;
        p.set(vfio_device_feature_mig_state.encode({ device_state: req.device_state, data_fd: fd }));
        return 0;
      } catch (e) {
        // a failed SET writes back the state that was asked for, not the one reached
        p.set(vfio_device_feature_mig_state.encode({ device_state: req.device_state, data_fd: -1 }));
        throw e;
      }
    }
    case F.MIG_DATA_SIZE: {
      if (!mig) throw new Errno("ENOTTY", "the device has no migration driver", SYSCALL);
      if (checkFeature("MIG_DATA_SIZE", hdr.flags, hdr.argsz, GET, vfio_device_feature_mig_data_size.size) === "probed") return 0;
      payload(8).set(vfio_device_feature_mig_data_size.encode({ stop_copy_length: mig.ops.dataSize() }));
      return 0;
    }
    case F.DMA_LOGGING_START: {
      if (!log) throw new Errno("ENOTTY", "the device has no DMA logging", SYSCALL);
      if (checkFeature("DMA_LOGGING_START", hdr.flags, hdr.argsz, SET, vfio_device_feature_dma_logging_control.size) === "probed") return 0;
      const p = payload(vfio_device_feature_dma_logging_control.size);
      const control = vfio_device_feature_dma_logging_control.decode(p);
      if (control.num_ranges === 0) throw new Errno("EINVAL", "num_ranges is 0", SYSCALL);
      if (control.num_ranges > LOG_MAX_RANGES) throw new Errno("E2BIG", `num_ranges ${control.num_ranges} exceeds ${LOG_MAX_RANGES}`, SYSCALL);
      const rangeBytes = kernel.user.copyFromUser(control.ranges, control.num_ranges * vfio_device_feature_dma_logging_range.size, SYSCALL);
      const mask = BigInt.asUintN(64, control.page_size - 1n);
      const ranges: LoggingRange[] = [];
      for (let i = 0; i < control.num_ranges; i++) {
        const r = vfio_device_feature_dma_logging_range.decode(rangeBytes, i * vfio_device_feature_dma_logging_range.size);
        if ((r.iova & mask) !== 0n || (r.length & mask) !== 0n) {
          throw new Errno("EINVAL", `range ${i} (iova 0x${r.iova.toString(16)}, length 0x${r.length.toString(16)}) is not aligned to page_size 0x${control.page_size.toString(16)}`, SYSCALL);
        }
        if (r.iova + r.length > U64_MAX) throw new Errno("EOVERFLOW", `range ${i}: iova + length overflows`, SYSCALL);
        const last = r.iova + r.length - 1n;
        if (ranges.some((o) => r.iova <= o.iova + o.length - 1n && o.iova <= last)) throw new Errno("EINVAL", `range ${i} overlaps an earlier range`, SYSCALL);
        ranges.push({ iova: r.iova, length: r.length });
      }
      const chosen = log.start(ranges, control.page_size);
      p.set(vfio_device_feature_dma_logging_control.encode({ ...control, page_size: chosen }));
      return 0;
    }
    case F.DMA_LOGGING_STOP: {
      if (!log) throw new Errno("ENOTTY", "the device has no DMA logging", SYSCALL);
      if (checkFeature("DMA_LOGGING_STOP", hdr.flags, hdr.argsz, SET, 0) === "probed") return 0;
      log.stop();
      return 0;
    }
    case F.DMA_LOGGING_REPORT: {
      if (!log) throw new Errno("ENOTTY", "the device has no DMA logging", SYSCALL);
      if (checkFeature("DMA_LOGGING_REPORT", hdr.flags, hdr.argsz, GET, vfio_device_feature_dma_logging_report.size) === "probed") return 0;
      const report = vfio_device_feature_dma_logging_report.decode(payload(vfio_device_feature_dma_logging_report.size));
      const ps = report.page_size;
      if (ps < 4096n || (ps & (ps - 1n)) !== 0n) throw new Errno("EINVAL", `page_size 0x${ps.toString(16)} must be a power of two of at least 4096`, SYSCALL);
      if (report.iova + report.length > U64_MAX) throw new Errno("EOVERFLOW", "iova + length overflows", SYSCALL);
      const nbits = Number((report.length + ps - 1n) / ps);
      const byteLength = Math.ceil(nbits / 64) * 8;
      if (!kernel.user.accessible(report.bitmap, byteLength)) throw new Errno("EFAULT", `bitmap 0x${report.bitmap.toString(16)} does not hold ${byteLength} bytes`, SYSCALL);
      // the driver only sets bits, so it may fill a registered, word-aligned caller bitmap in place
      const direct = userBitmapWords(kernel.user, report.bitmap, byteLength);
      if (direct) {
        log.report(report.iova, report.length, ps, direct);
        return 0;
      }
      const bits = new Uint32Array(byteLength / 4);
      log.report(report.iova, report.length, ps, bits);
      orBitmapToUser(kernel.user, report.bitmap, bits, byteLength, SYSCALL);
      return 0;
    }
    default: {
      // as Linux: a driver without a device_feature op (mtty) answers every other index ENOTTY
      if (!device.driver.feature) throw new Errno("ENOTTY", `feature ${index} is not handled by this driver`, SYSCALL);
      return device.driver.feature(index, hdr.flags, bytes.subarray(HEADER), hdr.argsz);
    }
  }
}
