/**
 * The guest's test program, started by the guest's /init once edu is bound to
 * vfio-pci and the mtty instances exist:
 *   node main.js EXPECTED_DIR UUID_A UUID_B
 * EXPECTED_DIR holds what the host packed: the emulated differential run and
 * the known differences, the notebooks to execute and their limits. Results go to the console (TAP) and to the results
 * channel (/dev/ttyS1); the last line on both is the sentinel.
 */
import { readFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import type { Syscalls } from "../../../hw-emu/uapi/index.js";
import { createNativeBackend } from "../../../kernel-lib/backends/native/index.js";
import type { KnownDifferences } from "../shared/compare.js";
import type { DiffDevice, DiffRecord } from "../shared/differential.js";
import { runConformanceTests } from "./conformance.js";
import { runDifferentialTests } from "./differential.js";
import { runEduTests } from "./edu.js";
import { runNotebookTests, type GuestNotebookOptions } from "./notebooks.js";
import { Channel, Reporter } from "./report.js";

const RESULTS_CHANNEL = "/dev/ttyS1";

function mttyDevice(sys: Syscalls, uuid: string): DiffDevice {
  const dir = `/sys/bus/mdev/devices/${uuid}`;
  const group = Number(sys.readlink(`${dir}/iommu_group`).split("/").at(-1));
  const cdevs = sys.readdir(`${dir}/vfio-dev`);
  if (!Number.isInteger(group) || cdevs.length !== 1) throw new Error(`mtty ${uuid}: group ${group}, cdevs ${cdevs.join(",")}`);
  return { group, name: uuid, cdev: `/dev/vfio/devices/${cdevs[0]}` };
}

async function main(): Promise<void> {
  const [expectedDir, uuidA, uuidB] = process.argv.slice(2);
  if (!expectedDir || !uuidA || !uuidB) throw new Error("usage: main.js EXPECTED_DIR UUID_A UUID_B");
  const r = new Reporter(new Channel(RESULTS_CHANNEL));
  const found: { sys?: Syscalls; devices?: [DiffDevice, DiffDevice] } = {};
  r.test("edu", "the native backend loads (the addon is in the initramfs)", () => {
    found.sys = createNativeBackend();
  });
  const sys = found.sys;
  if (sys) {
    runEduTests(sys, r);
    r.sectionSummary("edu");
    r.test("differential", "two mtty instances of two ports each exist", () => {
      const d = (found.devices = [mttyDevice(sys, uuidA), mttyDevice(sys, uuidB)]);
      return d.map((x) => `${x.name}: group ${x.group}, ${x.cdev}`).join("; ");
    });
    const devices = found.devices;
    if (devices) {
      // first, while the instances are fresh: the script relies on no earlier GET_INFO
      const emulated = JSON.parse(readFileSync(join(expectedDir, "emulated.json"), "utf8")) as DiffRecord[];
      const known = JSON.parse(readFileSync(join(expectedDir, "known-differences.json"), "utf8")) as KnownDifferences;
      runDifferentialTests(sys, r, devices, emulated, known);
      r.sectionSummary("differential");
      runConformanceTests(sys, r, devices);
      r.sectionSummary("conformance");
      // last: each notebook opens the devices afresh through createBackend(), as a user's would
      const notebooks = readFileSync(join(expectedDir, "notebooks"), "utf8").split("\n").filter((line) => line !== "");
      const options = JSON.parse(readFileSync(join(expectedDir, "notebook-options.json"), "utf8")) as GuestNotebookOptions;
      await runNotebookTests(r, notebooks, options);
      r.sectionSummary("notebooks");
    }
  }
  r.finish(release());
}

await main();
