/** Opening whatever the target names as a Subject: the device, its destination, and the lab if any. */
import type { MigStateName } from "../../hw-emu/uapi/index.js";
import type { Destination, Subject } from "./context.js";
import { LabEnv } from "./lab-env.js";
import { describeLocator, openDevice } from "./open.js";
import type { ConformanceOptions, ConformanceTarget } from "./types.js";

export function targetName(t: ConformanceTarget): string {
  if (t.kind === "emulated") return t.faulty ? `emulated ${t.model}, faulty: ${t.faulty}` : `emulated ${t.model}`;
  return t.name ?? describeLocator(t.device);
}

export function openSubject(target: ConformanceTarget, options: ConformanceOptions = {}): Subject {
  if (target.kind === "emulated") {
    const lab = LabEnv.create(target);
    const device = lab.dut.device;
    return {
      name: targetName(target),
      sys: lab.machine.sys,
      device,
      initialState: initialState(device.migration),
      lab,
      destination: () => lab.destination(),
      noDestination: "",
      probeBlockedArcs: true,
      close: () => lab.close(),
    };
  }
  const opened = openDevice(target.sys, target.device);
  const peer = target.peer;
  return {
    name: targetName(target),
    sys: target.sys,
    device: opened.device,
    initialState: initialState(opened.device.migration),
    lab: null,
    destination: peer
      ? (): Destination => {
          const o = openDevice(target.sys, peer);
          return { device: o.device, close: o.close };
        }
      : null,
    noDestination: "no second device to resume into: name one as the peer (--peer)",
    probeBlockedArcs: options.probeBlockedArcs ?? false,
    close: opened.close,
  };
}

function initialState(m: { state(): MigStateName } | null): MigStateName | null {
  return m ? m.state() : null;
}
