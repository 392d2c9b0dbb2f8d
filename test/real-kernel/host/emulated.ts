/** The emulated side of the differential test: a machine with two two-port serial mdevs, as the guest has two mtty-2 instances. */
import { createMachine } from "../../../hw-emu/machine/machine.js";
import type { DiffTarget } from "../shared/differential.js";

export function emulatedDiffTarget(): DiffTarget {
  const m = createMachine({ devices: [{ model: "serial", ports: 2 }, { model: "serial", ports: 2 }] });
  const [a, b] = m.devices;
  if (!a || !b) throw new Error("the emulated machine did not get its two serial devices");
  const dev = (d: typeof a) => ({ group: d.group, name: d.address, cdev: d.cdev });
  return { sys: m.sys, devices: [dev(a), dev(b)] };
}
