import { describe, expect, it } from "vitest";
import { abiJson } from "../../hw-emu/uapi/index.js";
import { runCli } from "./run-cli.js";

describe("vfio-workbench abi", () => {
  it("--json prints exactly the ABI object", () => {
    const r = runCli(["abi", "--json"]);
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as ReturnType<typeof abiJson>;
    expect(json).toEqual(abiJson());
    expect(json.ioctls.VFIO_DEVICE_FEATURE).toBe(0x3b75);
    expect(json.structs.vfio_irq_set!.fields.data).toEqual([20, 0]);
  });

  it("prints readable tables", () => {
    const r = runCli(["abi"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/VFIO_MIG_GET_PRECOPY_INFO\s+0x3b79\s+migration-data/);
    expect(r.stdout).toMatch(/struct iommu_hwpt_get_dirty_bitmap \(48 bytes, size >= 48\)/);
  });

  it("answers bad input with one line and a non-zero exit", () => {
    const r = runCli(["abi", "--struct", "no_such_struct"]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/no struct named no_such_struct/);
  });
});

describe("vfio-workbench --help", () => {
  it("lists the subcommands that exist, each with a description", () => {
    const r = runCli(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/abi \[options\]\s+print the VFIO and iommufd ABI/);
  });

  it("an unknown subcommand is a one-line error", () => {
    const r = runCli(["frobnicate"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
