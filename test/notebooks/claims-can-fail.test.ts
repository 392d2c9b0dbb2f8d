/**
 * The notebooks' claims can fail: run against a broken emulator, each affected notebook fails
 * `check`, and the failure names the claim that caught the fault. The faults go into a copy of the
 * built package, so nothing in the shipped code carries a hook for them:
 * - every emulated NIC wrapped in the faulty model (a device that DMAs after STOP; a device that
 *   refuses its peers' writes in RUNNING_P2P; a device that starts peer writes in RUNNING_P2P);
 * - a wrong arc in the migration path table (RUNNING → STOP_COPY no longer through RUNNING_P2P);
 * - a kernel table that lets STOP_COPY go back to PRE_COPY (through STOP) instead of refusing it;
 * - a VMM that computes the switchover threshold ten times too large;
 * - a container that accepts VFIO_SET_IOMMU before any group has joined it;
 * - a data fd that answers VFIO_MIG_GET_PRECOPY_INFO outside the PRE_COPY states;
 * - a `new` command that overwrites an existing notebook.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dist, repoRoot, requireBuild } from "../kernel/helpers.js";

interface Fault {
  name: string;
  notebook: string;
  /** edits the copied dist/ */
  inject(copy: string): void;
  /** the failure line must name this claim */
  claim: RegExp;
}

/** Replaces one exact piece of a copied file, failing loudly when the file no longer has it. */
function patch(file: string, find: string, replace: string): void {
  const text = readFileSync(file, "utf8");
  if (!text.includes(find)) throw new Error(`${file} no longer contains ${JSON.stringify(find)}: update this test's fault`);
  writeFileSync(file, text.replace(find, replace));
}

/** Every NIC the machine plugs in breaks `rule`. */
function faultyNics(rule: string): (copy: string) => void {
  return (copy) => {
    const machine = join(copy, "dist", "hw-emu", "machine", "machine.js");
    const text = readFileSync(machine, "utf8");
    if (!/export class EmulatedMachine\b/.test(text) || !text.includes("addDevice(spec)")) throw new Error(`${machine}: EmulatedMachine.addDevice(spec) is gone: update this test`);
    writeFileSync(
      machine,
      `${text}\n{ const plug = EmulatedMachine.prototype.addDevice;\n` +
        `  EmulatedMachine.prototype.addDevice = function (spec) { return plug.call(this, spec.model === "nic" && !spec.faulty ? { ...spec, faulty: ${JSON.stringify(rule)} } : spec); }; }\n`,
    );
  };
}

const FAULTS: Fault[] = [
  {
    name: "a NIC that DMAs after STOP",
    notebook: "01-uapi-tour.ipynb",
    inject: faultyNics("dma-after-stop"),
    claim: /claim failed: in STOP and STOP_COPY the NIC writes no guest memory/,
  },
  {
    name: "a NIC that refuses its peers' writes in RUNNING_P2P",
    notebook: "02-quiescing.ipynb",
    inject: faultyNics("p2p-refused-in-running-p2p"),
    claim: /claim failed: With every device in RUNNING_P2P \(here PRE_COPY_P2P\) before any stops, no peer write is lost/,
  },
  {
    name: "a wrong arc: RUNNING → STOP_COPY skips RUNNING_P2P",
    notebook: "00-first-migration.ipynb",
    inject: (copy) =>
      patch(
        join(copy, "dist", "hw-emu", "uapi", "migration-fsm.js"),
        'RUNNING: {\n        STOP: "RUNNING_P2P",\n        RUNNING: "RUNNING",\n        STOP_COPY: "RUNNING_P2P",',
        'RUNNING: {\n        STOP: "RUNNING_P2P",\n        RUNNING: "RUNNING",\n        STOP_COPY: "STOP",',
      ),
    claim: /claim failed: RUNNING → STOP_COPY walks RUNNING, RUNNING_P2P, STOP, STOP_COPY on a device with P2P/,
  },
  {
    name: "a kernel table that walks STOP_COPY → PRE_COPY instead of refusing it",
    notebook: "06-v1-to-v2.ipynb",
    inject: (copy) =>
      patch(
        join(copy, "dist", "hw-emu", "uapi", "migration-fsm.js"),
        'RUNNING_P2P: "STOP",\n        PRE_COPY: "ERROR",',
        'RUNNING_P2P: "STOP",\n        PRE_COPY: "STOP",',
      ),
    claim: /claim failed: The emulated kernel's table is 7\.2's: fsmDiff finds no difference for any flag set/,
  },
  {
    name: "a NIC that keeps starting peer writes in RUNNING_P2P",
    notebook: "06-v1-to-v2.ipynb",
    inject: faultyNics("p2p-during-running-p2p"),
    claim: /claim failed: In RUNNING_P2P nic0 starts no peer write, and accepts every write its running peer sends it/,
  },
  {
    name: "a VMM whose switchover threshold is ten times too large",
    notebook: "05-live-migration.ipynb",
    inject: (copy) =>
      patch(
        join(copy, "dist", "kernel-lib", "vmm", "migrate.js"),
        "this.thresholdBytes = this.bandwidth * (limitMs / 1000);",
        "this.thresholdBytes = this.bandwidth * (limitMs / 100);",
      ),
    claim: /claim failed: The switchover threshold is bandwidth × downtime limit/,
  },
  {
    name: "a container that takes VFIO_SET_IOMMU before any group has joined",
    notebook: "08-iommufd.ipynb",
    inject: (copy) =>
      patch(
        join(copy, "dist", "hw-emu", "kernel", "vfio", "container.js"),
        "if (this.groups.length === 0)\n            throw new Errno(\"EINVAL\", \"no group has joined this container",
        "if (false)\n            throw new Errno(\"EINVAL\", \"no group has joined this container",
      ),
    claim: /claim failed: VFIO_SET_IOMMU on a container no group has joined fails with EINVAL/,
  },
  {
    name: "a data fd that answers VFIO_MIG_GET_PRECOPY_INFO in STOP_COPY",
    notebook: "07-conformance.ipynb",
    inject: (copy) =>
      patch(
        join(copy, "dist", "hw-emu", "kernel", "vfio", "data-file.js"),
        "if (!PRE_COPY_STATES.has(state))\n            throw new Errno(\"EINVAL\", `pre-copy information exists only",
        "if (false)\n            throw new Errno(\"EINVAL\", `pre-copy information exists only",
      ),
    claim: /claim failed: Every emulated model passes every check that applies to it/,
  },
  {
    name: "a `new` that overwrites an existing notebook",
    notebook: "09-writing-notebooks.ipynb",
    inject: (copy) => {
      const file = join(copy, "dist", "cli", "commands", "new.js");
      patch(file, "if (existsSync(path))", "if (false)");
      patch(file, '{ flag: "wx" }', "{}");
    },
    claim: /claim failed: new refuses an existing name with one line and exit 1/,
  },
];

let root: string;
beforeAll(() => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), "vwb-claims-fail-"));
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A copy of the package (dist, the notebook) that resolves "vfio-workbench" to its own dist/. */
function packageCopy(name: string, notebook: string): string {
  const copy = join(root, name.replace(/\W+/g, "-"));
  cpSync(dist, join(copy, "dist"), { recursive: true });
  cpSync(join(repoRoot, "package.json"), join(copy, "package.json"));
  cpSync(join(repoRoot, "notebooks", notebook), join(copy, "notebooks", notebook));
  symlinkSync(join(repoRoot, "node_modules"), join(copy, "node_modules"), "dir");
  return copy;
}

function check(copy: string, notebook: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(copy, "dist", "cli", "main.js"), "check", join("notebooks", notebook)], { cwd: copy, timeout: 240_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stderr }),
    );
  });
}

describe("the notebooks' claims catch a broken emulator", () => {
  it("an unbroken copy of the package passes, so the copy itself is sound", async () => {
    const copy = packageCopy("unbroken", "00-first-migration.ipynb");
    const r = await check(copy, "00-first-migration.ipynb");
    expect(r.code, r.stderr).toBe(0);
  }, 240_000);

  for (const fault of FAULTS) {
    it(`${fault.name}: ${fault.notebook} fails check, naming the claim`, async () => {
      const copy = packageCopy(fault.name, fault.notebook);
      fault.inject(copy);
      const r = await check(copy, fault.notebook);
      expect(r.code, r.stderr).toBe(1);
      const failure = r.stderr.split("\n").find((line) => line.startsWith(`vfio-workbench: notebooks/${fault.notebook}: cell `));
      expect(failure, r.stderr).toBeDefined();
      expect(failure).toMatch(/ClaimError: claim failed: /);
      expect(failure).toMatch(fault.claim);
    }, 240_000);
  }
});
