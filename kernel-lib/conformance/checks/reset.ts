/** VFIO_DEVICE_RESET: back to RUNNING from anywhere, open sessions ended. */
import { supportedStates } from "../../../hw-emu/uapi/migration-fsm.js";
import type { MigStateName } from "../../../hw-emu/uapi/index.js";
import { SaveStream } from "../../vfio/migration.js";
import { needsMigration, type Check } from "../check.js";
import { fail, skip } from "../context.js";
import { rawRead, rawWrite } from "../raw.js";

const resetRunning: Check = {
  id: "reset.running",
  description: "VFIO_DEVICE_RESET from every state makes GET report RUNNING and ends open data sessions (ENODEV)",
  applies: needsMigration,
  run(ctx, caps) {
    // mtty does not advertise RESET yet implements it: try it either way
    const first = ctx.errno(() => ctx.device.reset());
    if (first !== "ok") {
      if (!caps.reset) skip(`the device has no reset (GET_INFO lacks VFIO_DEVICE_FLAGS_RESET; VFIO_DEVICE_RESET: ${first})`);
      fail(`GET_INFO advertises reset, but VFIO_DEVICE_RESET in RUNNING failed with ${first}`);
    }
    const seen: MigStateName[] = [];
    for (const s of supportedStates(caps.flags)) {
      ctx.restore();
      const r = ctx.goTo(s, `reaching ${s}`);
      const e = ctx.errno(() => ctx.device.reset());
      if (e !== "ok") fail(`VFIO_DEVICE_RESET in ${s} failed with ${e}`);
      const now = ctx.mig.state();
      if (now !== "RUNNING") fail(`after VFIO_DEVICE_RESET in ${s} GET reports ${now}`);
      if (r.data) {
        const io = r.data instanceof SaveStream ? rawRead(ctx.device.sys, r.data.fd) : rawWrite(ctx.device.sys, r.data.fd);
        if (io !== "ENODEV") fail(`after VFIO_DEVICE_RESET in ${s} the session's fd answers ${io === "ok" ? "normally" : io}, not ENODEV`);
      }
      seen.push(s);
    }
    return `from ${seen.join(", ")}${caps.reset ? "" : " (reset works though GET_INFO does not advertise it)"}`;
  },
};

export const resetChecks: Check[] = [resetRunning];
