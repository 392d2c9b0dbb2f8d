import { describe, expect, it } from "vitest";
import { runCli } from "../cli/run-cli.js";

describe("vfio-workbench conform", () => {
  it("prints a table and exits 0 when every check passes", () => {
    const r = runCli(["conform", "--device", "accel"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("emulated accel: migration flags STOP_COPY,PRE_COPY; DMA logging no; lab yes");
    expect(lines).toContainEqual(expect.stringMatching(/^id\s+result\s+detail$/));
    expect(lines).toContainEqual(expect.stringMatching(/^fsm\.arc RUNNING->PRE_COPY\s+PASS\s+new data fd \d+$/));
    expect(lines).toContainEqual(expect.stringMatching(/^lab\.p2p-quiesce\s+SKIP\s+the device does not offer P2P$/));
    expect(r.stdout).toMatch(/\nPASSED: \d+ passed, 0 failed, \d+ skipped\n$/);
  });

  it("prints JSON with --json and exits 1 on a failure, naming the rule's effect", () => {
    const r = runCli(["conform", "--device", "faulty:dma-after-stop", "--json"]);
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as { device: string; flags: string; checks: { id: string; status: string; detail: string }[]; passed: number; failed: number; skipped: number };
    expect(j).toMatchObject({ device: "emulated nic, faulty: dma-after-stop", flags: "STOP_COPY,P2P,PRE_COPY", failed: 1 });
    expect(j.passed + j.failed + j.skipped).toBe(j.checks.length);
    expect(j.checks.find((c) => c.status === "fail")).toMatchObject({ id: "lab.stop-stops-dma", detail: expect.stringMatching(/^the device wrote \d+ pages of guest memory in STOP/) });
  });

  it("runs a faulty variant of another model and a subset of checks", () => {
    const r = runCli(["conform", "--device", "faulty:corrupt-stream:serial", "--only", "resume.round-trip"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/resume\.round-trip\s+FAIL\s+the destination accepted the \d+-byte stream, but its state differs/);
    expect(r.stdout).toMatch(/FAILED: 0 passed, 1 failed, 0 skipped/);
  });

  for (const [args, message] of [
    [[], /^vfio-workbench: name a device: --device/],
    [["--device", "gpu"], /^vfio-workbench: unknown device "gpu"/],
    [["--device", "faulty:p2p-during-running-p2p:accel"], /cannot break "p2p-during-running-p2p"/],
    [["--device", "nic", "--vfio", "/dev/vfio/devices/vfio0"], /either --device .* not both/],
    [["--group", "10"], /--group and --bdf go together/],
    [["--group", "ten", "--bdf", "0000:01:00.0"], /--group must be a non-negative integer/],
    [["--vfio", "vfio0"], /--vfio takes a cdev path/],
    [["--group", "10", "--bdf", "01:00"], /--bdf takes a PCI address/],
    [["--device", "nic", "--peer", "/dev/vfio/devices/vfio1"], /--peer names a second real device/],
    [["--device", "nic", "--only", "nothing."], /no check id starts with nothing\./],
    [["--device", "nic", "--frobnicate"], /unknown option '--frobnicate'/],
  ] as const) {
    it(`exits 2 with a one-line error for: conform ${args.join(" ")}`, () => {
      const r = runCli(["conform", ...args]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe("");
      const first = r.stderr.split("\n")[0]!;
      expect(first).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it("exits 1 with one line when a real device cannot be opened", () => {
    const r = runCli(["conform", "--vfio", "/dev/vfio/devices/vfio99"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^vfio-workbench: /);
  });

  it("has help for every option", () => {
    const r = runCli(["conform", "--help"]);
    expect(r.status).toBe(0);
    for (const o of ["--device", "--vfio", "--group", "--bdf", "--peer", "--seed", "--only", "--probe-blocked-arcs", "--json"]) expect(r.stdout).toContain(o);
  });
});
