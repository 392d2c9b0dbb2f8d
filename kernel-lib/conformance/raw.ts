/**
 * Calls the typed library deliberately does not offer, because they break the
 * rules on purpose: state values outside the enum, short argsz, ioctls sent to
 * the wrong fd. Each returns the errno ("ok" on success) and whatever the
 * kernel wrote back.
 */
import {
  IOCTL,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_FLAG,
  vfio_device_feature,
  vfio_device_feature_mig_state,
  vfio_precopy_info,
  type Syscalls,
} from "../../hw-emu/uapi/index.js";
import { VfioError, sys } from "../vfio/errors.js";

function errnoOf(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (e instanceof VfioError) return e.code;
    throw e;
  }
}

/** SET MIG_DEVICE_STATE with any 32-bit value; data_fd goes in as `fdIn` so the write-back is visible. */
export function rawSetState(s: Syscalls, fd: number, value: number, fdIn = 0x5a5a): { errno: string; deviceState: number; dataFd: number } {
  const buf = new Uint8Array(vfio_device_feature.size + vfio_device_feature_mig_state.size);
  buf.set(vfio_device_feature.encode({ argsz: buf.byteLength, flags: VFIO_DEVICE_FEATURE.values.MIG_DEVICE_STATE | VFIO_DEVICE_FEATURE_FLAG.bits.SET }));
  const view = new DataView(buf.buffer);
  view.setUint32(vfio_device_feature.size, value >>> 0, true);
  view.setInt32(vfio_device_feature.size + 4, fdIn, true);
  const errno = errnoOf(() => sys("VFIO_DEVICE_FEATURE(MIG_DEVICE_STATE)", () => s.ioctl(fd, IOCTL.VFIO_DEVICE_FEATURE, buf)));
  const out = vfio_device_feature_mig_state.decode(buf, vfio_device_feature.size);
  return { errno, deviceState: out.device_state, dataFd: out.data_fd };
}

/** A feature call with only the header (PROBE, or a SET without payload). */
export function rawFeature(s: Syscalls, fd: number, index: number, flags: number): string {
  const buf = vfio_device_feature.encode({ argsz: vfio_device_feature.size, flags: index | flags });
  return errnoOf(() => sys("VFIO_DEVICE_FEATURE", () => s.ioctl(fd, IOCTL.VFIO_DEVICE_FEATURE, buf)));
}

/** VFIO_MIG_GET_PRECOPY_INFO with a chosen argsz (the buffer is always the full 24 bytes). */
export function rawPrecopyInfo(s: Syscalls, fd: number, argsz: number): string {
  const buf = vfio_precopy_info.encode({ argsz }, { totalSize: vfio_precopy_info.size });
  new DataView(buf.buffer).setUint32(0, argsz, true);
  return errnoOf(() => sys("VFIO_MIG_GET_PRECOPY_INFO", () => s.ioctl(fd, IOCTL.VFIO_MIG_GET_PRECOPY_INFO, buf)));
}

/** Any ioctl request with a zeroed 64-byte argument: for "this fd does not take that ioctl". */
export function rawIoctl(s: Syscalls, fd: number, request: number): string {
  return errnoOf(() => sys("ioctl", () => s.ioctl(fd, request, new Uint8Array(64))));
}

export function rawPread(s: Syscalls, fd: number): string {
  return errnoOf(() => sys("pread", () => s.pread(fd, new Uint8Array(16), 0n)));
}

export function rawPwrite(s: Syscalls, fd: number): string {
  return errnoOf(() => sys("pwrite", () => s.pwrite(fd, new Uint8Array(16), 0n)));
}

export function rawRead(s: Syscalls, fd: number): string {
  return errnoOf(() => sys("read", () => s.read(fd, new Uint8Array(16))));
}

export function rawWrite(s: Syscalls, fd: number): string {
  return errnoOf(() => sys("write", () => s.write(fd, new Uint8Array(16))));
}

export const FEATURE_FLAG = VFIO_DEVICE_FEATURE_FLAG.bits;
export const FEATURE_INDEX = VFIO_DEVICE_FEATURE.values;
