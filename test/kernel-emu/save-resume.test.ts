/**
 * Save a device's state through the uAPI and resume it into a second instance of
 * the same model, with and without PRE_COPY: the resumed device's state equals the
 * original's, and so does its behaviour afterwards (the same register writes and the
 * same traffic leave both in the same state).
 */
import { describe, expect, it } from "vitest";
import { createMachine, type DeviceSpec, type EmulatedMachine } from "../../hw-emu/machine/machine.js";
import { triggerTraffic } from "../../hw-emu/lab/devices.js";
import { NIC_REGS } from "../../hw-emu/hw/devices/nic-vf.js";
import { ACCEL_REGS } from "../../hw-emu/hw/devices/accel-vf.js";
import { Container, Group, ResumeStream, SaveStream, type Device } from "../../kernel-lib/vfio/index.js";

function open(m: EmulatedMachine): Device {
  const c = Container.open(m.sys);
  const g = Group.open(m.sys, m.devices[0]!.group);
  g.setContainer(c);
  c.setIommu();
  return g.device(m.devices[0]!.address);
}

const snapshot = (m: EmulatedMachine) => Buffer.from(m.devices[0]!.model.save()).toString("hex");

/** Registers the guest would program: a mailbox word (NIC) or a context word (accelerator). */
function program(dev: Device, model: string, value: number): void {
  const bar0 = dev.region(0);
  if (model === "nic") bar0.writeU32(NIC_REGS.MAILBOX + 4 * (value % NIC_REGS.MAILBOX_SLOTS), value);
  else if (model === "accel") bar0.writeU32(ACCEL_REGS.CONTEXT + 4 * (value % ACCEL_REGS.CONTEXT_WORDS), value);
  // serial: the UART's scratch register (offset 7) through the I/O BAR
  else bar0.write(7, Uint8Array.of(value & 0xff));
}

/** Enable memory decoding through the config region, as a VMM restoring the command register does. */
function enableMemory(dev: Device): void {
  const cfg = dev.config;
  const cmd = cfg.read(4, 2);
  cfg.write(4, Uint8Array.of(cmd[0]! | 0x2, cmd[1]!));
}

const cases: { spec: DeviceSpec; preCopy: boolean }[] = [
  { spec: { model: "nic", stateSize: 256 << 10, queues: 2 }, preCopy: false },
  { spec: { model: "nic", stateSize: 256 << 10, queues: 2 }, preCopy: true },
  { spec: { model: "accel", preCopy: false }, preCopy: false },
  { spec: { model: "accel", preCopy: true }, preCopy: true },
  { spec: { model: "serial", ports: 2 }, preCopy: false },
  { spec: { model: "serial", ports: 2 }, preCopy: true },
];

describe("save on one instance, resume on another, through the uAPI", () => {
  for (const { spec, preCopy } of cases) {
    it(`${spec.model}, ${preCopy ? "with PRE_COPY" : "STOP_COPY only"}: state and later behaviour match`, async () => {
      const src = createMachine({ seed: 3, devices: [spec] });
      const dst = createMachine({ seed: 4, clock: src.clock, devices: [spec] });
      const a = open(src);
      const b = open(dst);
      if (spec.model !== "serial") enableMemory(a);
      for (let v = 1; v <= 5; v++) program(a, spec.model, v * 0x1111);
      if (spec.model === "nic") triggerTraffic(src.devices[0]!.model, { packets: 3, churnPages: 4, seed: 9 });
      if (spec.model === "serial") triggerTraffic(src.devices[0]!.model, { bytes: [0x41, 0x42, 0x43] });

      const stream: Uint8Array[] = [];
      let save: SaveStream;
      if (preCopy) {
        save = a.migration!.set("PRE_COPY").data as SaveStream;
        stream.push(...save.readAvailable());
        expect(save.precopyInfo().initialBytes).toBe(0n);
        if (spec.model === "nic") triggerTraffic(src.devices[0]!.model, { churnPages: 2, seed: 10 });
        stream.push(...save.readAvailable());
        a.migration!.set("STOP_COPY");
      } else {
        save = a.migration!.set("STOP_COPY").data as SaveStream;
      }
      for await (const c of save.chunks()) stream.push(c);
      const atSwitchover = snapshot(src);

      const resume = b.migration!.set("RESUMING").data as ResumeStream;
      // the stream is opaque and may be re-segmented: write it in odd-sized pieces
      const whole = Buffer.concat(stream);
      for (let at = 0; at < whole.length; at += 777) resume.write(whole.subarray(at, at + 777));
      b.migration!.set("STOP");
      expect(snapshot(dst)).toBe(atSwitchover);

      // both run on and get the same inputs: they stay equal
      a.migration!.set("RUNNING");
      b.migration!.set("RUNNING");
      if (spec.model !== "serial") enableMemory(b);
      for (const [dev, m] of [
        [a, src],
        [b, dst],
      ] as const) {
        program(dev, spec.model, 0xabcd);
        if (spec.model === "nic") triggerTraffic(m.devices[0]!.model, { packets: 2, seed: 11 });
        if (spec.model === "serial") triggerTraffic(m.devices[0]!.model, { bytes: [0x44] });
      }
      expect(snapshot(dst)).toBe(snapshot(src));
    });
  }
});
