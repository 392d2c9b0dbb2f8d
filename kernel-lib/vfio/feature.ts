/** VFIO_DEVICE_FEATURE calls: an 8-byte header (argsz, flags = index | GET/SET/PROBE) and a payload. */
import { IOCTL, VFIO_DEVICE_FEATURE, VFIO_DEVICE_FEATURE_FLAG, vfio_device_feature, type Syscalls } from "../../hw-emu/uapi/index.js";
import { sys } from "./errors.js";

export type FeatureName = keyof typeof VFIO_DEVICE_FEATURE.values;
export type FeatureOp = "get" | "set" | "probe-get" | "probe-set";

const OP_FLAGS: Record<FeatureOp, number> = {
  get: VFIO_DEVICE_FEATURE_FLAG.bits.GET,
  set: VFIO_DEVICE_FEATURE_FLAG.bits.SET,
  "probe-get": VFIO_DEVICE_FEATURE_FLAG.bits.GET | VFIO_DEVICE_FEATURE_FLAG.bits.PROBE,
  "probe-set": VFIO_DEVICE_FEATURE_FLAG.bits.SET | VFIO_DEVICE_FEATURE_FLAG.bits.PROBE,
};

/** Issue one feature call; returns the payload as the kernel left it. */
export function featureCall(s: Syscalls, fd: number, name: FeatureName, op: FeatureOp, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const buf = new Uint8Array(vfio_device_feature.size + payload.byteLength);
  buf.set(vfio_device_feature.encode({ argsz: buf.byteLength, flags: VFIO_DEVICE_FEATURE.values[name] | OP_FLAGS[op] }));
  buf.set(payload, vfio_device_feature.size);
  sys(`VFIO_DEVICE_FEATURE(${name})`, () => s.ioctl(fd, IOCTL.VFIO_DEVICE_FEATURE, buf));
  return buf.subarray(vfio_device_feature.size);
}
