/**
 * What a notebook reaches through the package: the uAPI namespace, the syscall
 * recorder and the emulated kernel's own path walk.
 */
import { describe, expect, it } from "vitest";
import * as pkg from "../../kernel-lib/index.js";

describe("the public package", () => {
  it("exports the uAPI as a namespace, beside the library", () => {
    expect(pkg.uapi.IOCTL.VFIO_DEVICE_FEATURE).toBe(0x3b75);
    expect(pkg.uapi.vfio_device_feature_mig_state.size).toBe(8);
    expect(pkg.uapi.VFIO_DEVICE_FEATURE.values.MIG_DEVICE_STATE).toBe(2);
    expect(typeof pkg.traceSyscalls).toBe("function");
  });

  it("exports the emulated kernel's walk of every path", () => {
    const paths = pkg.walkAllFsmPaths();
    expect(Object.keys(paths)).toEqual(["STOP_COPY", "STOP_COPY,P2P", "STOP_COPY,PRE_COPY", "STOP_COPY,P2P,PRE_COPY"]);
    expect(new pkg.FsmProbe("STOP_COPY,P2P").path("RUNNING", "STOP_COPY")).toEqual(["RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"]);
  });
});
