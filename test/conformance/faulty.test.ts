import { describe, expect, it } from "vitest";
import { FAULT_RULES, type FaultRule } from "../../hw-emu/hw/devices/faulty.js";
import { runConformance, type EmulatedModelName } from "../../kernel-lib/conformance/index.js";
import { faultsFor } from "../../kernel-lib/conformance/target.js";

/**
 * For each rule: the check that must fail, what its detail must say (the
 * rule's effect), and the only checks allowed to fail along with it (those
 * that see the same broken behaviour from another side).
 */
const STREAM_USERS = ["fsm.arc RESUMING->STOP", "fsm.paths", "session.enodev", "resume.round-trip"];
const EXPECT: Record<FaultRule, (model: EmulatedModelName) => { id: RegExp; detail: RegExp; allowed: RegExp[] }> = {
  "dma-after-stop": () => ({ id: /^lab\.stop-stops-dma$/, detail: /^the device wrote \d+ pages? of guest memory in STOP \(first at IOVA 0x[0-9a-f]+\)$/, allowed: [] }),
  "p2p-during-running-p2p": () => ({ id: /^lab\.p2p-quiesce$/, detail: /^the device made \d+ peer-to-peer writes? while in RUNNING_P2P$/, allowed: [] }),
  "short-stream": () => ({
    id: /^resume\.round-trip$/,
    detail: /^the destination refused the \d+-byte stream at RESUMING -> STOP: EINVAL .*(END record|state bytes received)/,
    allowed: STREAM_USERS.map((s) => new RegExp(`^${s.replace(/[.>]/g, "\\$&")}$`)),
  }),
  "corrupt-stream": (model) => ({
    id: /^resume\.round-trip$/,
    // the serial format has no checksum (like mtty): the corruption is only visible in the loaded state
    detail: model === "serial" ? /accepted the \d+-byte stream, but its state differs from the source's at byte \d+/ : /^the destination refused the \d+-byte stream .*(does not match|CRC mismatch)/,
    allowed: STREAM_USERS.map((s) => new RegExp(`^${s.replace(/[.>]/g, "\\$&")}$`)),
  }),
  "arc-fails-to-error": () => ({ id: /^fsm\.arc /, detail: /-> STOP failed with EIO .*injected failure of stop.*GET now reports ERROR$/, allowed: [] }),
  "dirty-page-not-logged": () => ({ id: /^lab\.dirty-logged$/, detail: /^the device wrote \d+ pages but the DMA log \(page size 4096\) missed 1 page: IOVA 0x[0-9a-f]+$/, allowed: [] }),
};

describe("every faulty variant fails, naming the broken rule's effect", () => {
  it("covers every rule the wrapper knows", () => {
    expect(Object.keys(EXPECT).sort()).toEqual([...FAULT_RULES].sort());
  });

  for (const model of ["nic", "accel", "serial"] as const) {
    for (const rule of faultsFor(model)) {
      it(`${model} breaking ${rule}`, () => {
        const r = runConformance({ kind: "emulated", model, faulty: rule });
        const want = EXPECT[rule](model);
        const failed = r.checks.filter((c) => c.status === "fail");
        const hit = failed.find((c) => want.id.test(c.id));
        expect(hit, `${failed.map((c) => `${c.id}: ${c.detail}`).join("\n")}`).toBeDefined();
        expect(hit!.detail).toMatch(want.detail);
        const stray = failed.filter((c) => c !== hit && !want.allowed.some((a) => a.test(c.id)));
        expect(stray.map((c) => `${c.id}: ${c.detail}`)).toEqual([]);
        expect(r.device).toBe(`emulated ${model}, faulty: ${rule}`);
      });
    }
  }
});
