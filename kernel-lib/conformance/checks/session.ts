/** Data sessions and data fds: one fd for the saving group, ENODEV after a session ends, stream semantics. */
import { IOCTL, type MigStateName } from "../../../hw-emu/uapi/index.js";
import { needsMigration, needsPreCopy, type Check } from "../check.js";
import { fail, type CheckContext } from "../context.js";
import { rawIoctl, rawPread, rawPwrite, rawRead, rawWrite } from "../raw.js";

const singleFd: Check = {
  id: "session.single-fd",
  description: "the saving group shares one fd: arcs inside it return data_fd -1 and the same fd streams on to the end",
  applies: needsPreCopy,
  run(ctx, caps) {
    const s = ctx.saveStream(ctx.goTo("PRE_COPY", "reaching PRE_COPY"), "RUNNING -> PRE_COPY");
    let bytes = ctx.readAvailable(s).byteLength;
    const walked: MigStateName[] = ["PRE_COPY"];
    const inside: MigStateName[] = caps.p2p ? ["PRE_COPY_P2P", "STOP_COPY"] : ["STOP_COPY"];
    for (const t of inside) {
      const r = ctx.goTo(t, `moving within the saving group`);
      if (r.data) fail(`${walked.at(-1)} -> ${t} returned a new data fd ${r.data.fd}; moves inside the saving group keep the session's fd`);
      walked.push(t);
      const e = ctx.errno(() => (t === "STOP_COPY" ? (bytes += ctx.readToEnd(s).byteLength) : (bytes += ctx.readAvailable(s).byteLength)));
      if (e !== "ok") fail(`after ${walked.join(" -> ")} the session's fd read fails with ${e}`);
    }
    if (bytes === 0) fail("the session delivered no bytes at all");
    return `${walked.join(" -> ")} on fd ${s.fd}: ${bytes} bytes`;
  },
};

/** One way a session ends, and how to check its fd is dead. */
interface Ending {
  name: string;
  applies: (ctx: CheckContext) => boolean;
  /** the errno of I/O on the old fd, and of closing it */
  run: (ctx: CheckContext) => { io: string; close: string };
}

const ENDINGS: Ending[] = [
  {
    name: "STOP_COPY -> STOP",
    applies: () => true,
    run(ctx) {
      const s = ctx.saveStream(ctx.goTo("STOP_COPY"), "-> STOP_COPY");
      ctx.goTo("STOP");
      return { io: rawRead(ctx.device.sys, s.fd), close: ctx.errno(() => s.close()) };
    },
  },
  {
    name: "PRE_COPY -> RUNNING",
    applies: (ctx) => ctx.mig.features.preCopy,
    run(ctx) {
      const s = ctx.saveStream(ctx.goTo("PRE_COPY"), "-> PRE_COPY");
      ctx.goTo("RUNNING");
      return { io: rawRead(ctx.device.sys, s.fd), close: ctx.errno(() => s.close()) };
    },
  },
  {
    name: "PRE_COPY_P2P -> RUNNING_P2P",
    applies: (ctx) => ctx.mig.features.preCopy && ctx.mig.features.p2p,
    run(ctx) {
      const s = ctx.saveStream(ctx.goTo("PRE_COPY_P2P"), "-> PRE_COPY_P2P");
      ctx.goTo("RUNNING_P2P");
      return { io: rawRead(ctx.device.sys, s.fd), close: ctx.errno(() => s.close()) };
    },
  },
  {
    name: "RESUMING -> STOP",
    applies: () => true,
    run(ctx) {
      const own = ctx.saveState({ preCopy: false });
      const w = ctx.resumeStream(ctx.goTo("RESUMING"), "-> RESUMING");
      ctx.writeOwnState(w, own);
      ctx.goTo("STOP", "loading the device's own state");
      return { io: rawWrite(ctx.device.sys, w.fd), close: ctx.errno(() => w.close()) };
    },
  },
];

const enodev: Check = {
  id: "session.enodev",
  description: "leaving the saving group or RESUMING ends the session: the old fd answers ENODEV and stays open until closed",
  applies: needsMigration,
  run(ctx) {
    const done: string[] = [];
    for (const end of ENDINGS) {
      if (!end.applies(ctx)) continue;
      ctx.restore();
      const e = end.run(ctx);
      if (e.io !== "ENODEV") fail(`after ${end.name} the old fd answers ${e.io === "ok" ? "with data" : e.io}, not ENODEV`);
      if (e.close !== "ok") fail(`after ${end.name} closing the old fd gave ${e.close}; it should still be open`);
      done.push(end.name);
    }
    return done.join("; ") + ": ENODEV";
  },
};

const stopCopyEof: Check = {
  id: "data.stop-copy-eof",
  description: "in STOP_COPY the save fd gives the state, then 0 at the end, and 0 again on every later read",
  applies: needsMigration,
  run(ctx) {
    const s = ctx.saveStream(ctx.goTo("STOP_COPY"), "-> STOP_COPY");
    const data = ctx.readToEnd(s);
    if (data.byteLength === 0) fail("the STOP_COPY stream was empty");
    for (let i = 0; i < 3; i++) {
      const b = s.read(4096);
      if (b === null || b.byteLength !== 0) fail(`read ${i + 2} after the end returned ${b === null ? "ENOMSG" : `${b.byteLength} bytes`}, not 0`);
    }
    return `${data.byteLength} bytes, then 0 four times`;
  },
};

const espipe: Check = {
  id: "data.espipe",
  description: "data fds are streams: pread on the save fd and pwrite on the resume fd answer ESPIPE",
  applies: needsMigration,
  run(ctx) {
    const s = ctx.saveStream(ctx.goTo("STOP_COPY"), "-> STOP_COPY");
    const pr = rawPread(ctx.device.sys, s.fd);
    if (pr !== "ESPIPE") fail(`pread on the save fd gave ${pr}, not ESPIPE`);
    const w = ctx.resumeStream(ctx.goTo("RESUMING"), "-> RESUMING");
    const pw = rawPwrite(ctx.device.sys, w.fd);
    if (pw !== "ESPIPE") fail(`pwrite on the resume fd gave ${pw}, not ESPIPE`);
    return "pread ESPIPE; pwrite ESPIPE";
  },
};

const direction: Check = {
  id: "data.direction",
  description: "the save fd is read-only and the resume fd write-only (EBADF the other way)",
  applies: needsMigration,
  run(ctx) {
    const s = ctx.saveStream(ctx.goTo("STOP_COPY"), "-> STOP_COPY");
    const w1 = rawWrite(ctx.device.sys, s.fd);
    if (w1 !== "EBADF") fail(`write on the save fd gave ${w1}, not EBADF`);
    const r = ctx.resumeStream(ctx.goTo("RESUMING"), "-> RESUMING");
    const r1 = rawRead(ctx.device.sys, r.fd);
    if (r1 !== "EBADF") fail(`read on the resume fd gave ${r1}, not EBADF`);
    return "write on save fd EBADF; read on resume fd EBADF";
  },
};

const enotty: Check = {
  id: "data.enotty",
  description: "a data fd answers ENOTTY to any ioctl but VFIO_MIG_GET_PRECOPY_INFO",
  applies: needsMigration,
  run(ctx) {
    const s = ctx.saveStream(ctx.goTo("STOP_COPY"), "-> STOP_COPY");
    const a = rawIoctl(ctx.device.sys, s.fd, IOCTL.VFIO_DEVICE_GET_INFO);
    if (a !== "ENOTTY") fail(`VFIO_DEVICE_GET_INFO on the save fd gave ${a}, not ENOTTY`);
    const r = ctx.resumeStream(ctx.goTo("RESUMING"), "-> RESUMING");
    const b = rawIoctl(ctx.device.sys, r.fd, IOCTL.VFIO_DEVICE_GET_INFO);
    if (b !== "ENOTTY") fail(`VFIO_DEVICE_GET_INFO on the resume fd gave ${b}, not ENOTTY`);
    return "save fd ENOTTY; resume fd ENOTTY";
  },
};

export const sessionChecks: Check[] = [singleFd, enodev, stopCopyEof, espipe, direction, enotty];
