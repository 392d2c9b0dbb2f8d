import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as zmq from "zeromq";
import { KernelClient } from "../../kernel-lib/kernel/client.js";
import { endpoint } from "../../kernel-lib/kernel/connection.js";
import { decodeMessage, encodeMessage, newHeader, Signer, type JupyterMessage } from "../../kernel-lib/kernel/wire.js";
import { dist, fixtures, ofType, outputs, requireBuild } from "./helpers.js";

// One kernel for the whole file: starting one costs seconds. Its working directory is the
// fixtures folder, inside this package (so the package's own name resolves by self-reference).
let kernel: KernelClient;

const displayChannel = JSON.stringify(join(dist, "kernel-lib", "display", "display-channel.js"));
const mimeBundleModule = JSON.stringify(join(dist, "kernel-lib", "display", "mime-bundle.js"));
const importEsmModule = JSON.stringify(join(dist, "kernel-lib", "kernel", "import-esm.js"));

beforeAll(async () => {
  requireBuild();
  kernel = await KernelClient.start({ cwd: fixtures });
});

afterAll(async () => {
  await kernel?.close(5000);
});

/** Waits until the kernel has started running the request (its execute_input arrived), plus a little. */
function startedRunning(): { onMessage: (m: JupyterMessage) => void; started: Promise<void> } {
  let resolve!: () => void;
  const started = new Promise<void>((r) => (resolve = r));
  return {
    onMessage: (m) => {
      if (m.header.msg_type === "execute_input") setTimeout(resolve, 300);
    },
    started,
  };
}

describe("kernel_info and heartbeat", () => {
  it("describes a TypeScript kernel speaking protocol 5.3, on shell and on control", async () => {
    for (const channel of ["shell", "control"] as const) {
      const { reply } = await kernel.request(channel, "kernel_info_request", {});
      expect(reply.header.msg_type).toBe("kernel_info_reply");
      expect(reply.content).toMatchObject({
        status: "ok",
        protocol_version: "5.3",
        implementation: "vfio-workbench",
        language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
      });
    }
  });

  it("echoes heartbeats", async () => {
    const hb = new zmq.Request({ linger: 0 });
    hb.connect(endpoint(kernel.connection, "hb"));
    await hb.send("ping");
    const [echo] = await hb.receive();
    expect(echo!.toString()).toBe("ping");
    hb.close();
  });
});

describe("execute", () => {
  it("publishes busy, execute_input, the result with its count, idle; and replies ok", async () => {
    const first = await kernel.execute("const base: number = 40;\nbase + 2");
    const count = first.reply.content.execution_count as number;
    expect(first.reply.content.status).toBe("ok");
    const types = first.messages.map((m) => (m.header.msg_type === "status" ? `status:${m.content.execution_state}` : m.header.msg_type));
    expect(types).toEqual(["status:busy", "execute_input", "execute_result", "status:idle"]);
    expect(ofType(first.messages, "execute_input")[0]!.content).toEqual({ code: "const base: number = 40;\nbase + 2", execution_count: count });
    expect(ofType(first.messages, "execute_result")[0]!.content).toEqual({ execution_count: count, data: { "text/plain": "42" }, metadata: {} });

    const second = await kernel.execute("`${base}`");
    expect(second.reply.content.execution_count).toBe(count + 1);
    expect(ofType(second.messages, "execute_result")[0]!.content).toMatchObject({ execution_count: count + 1, data: { "text/plain": "'40'" } });
  });

  it("captures stdout and stderr per cell as stream messages", async () => {
    const { messages } = await kernel.execute('console.log("out 1"); console.error("err"); process.stdout.write("out 2\\n");');
    const streams = ofType(messages, "stream").map((m) => m.content);
    expect(streams).toEqual([
      { name: "stdout", text: "out 1\n" },
      { name: "stderr", text: "err\n" },
      { name: "stdout", text: "out 2\n" },
    ]);
    const next = await kernel.execute("1");
    expect(ofType(next.messages, "stream")).toEqual([]);
  });

  it("reports a thrown error with ename, evalue and a traceback, and runs the next cell right away", async () => {
    const { reply, messages } = await kernel.execute('function fail(): never { throw new TypeError("bad input"); }\nfail()');
    expect(reply.content).toMatchObject({ status: "error", ename: "TypeError", evalue: "bad input" });
    const error = ofType(messages, "error")[0]!.content;
    expect(error).toMatchObject({ ename: "TypeError", evalue: "bad input" });
    const traceback = error.traceback as string[];
    expect(traceback[0]).toBe("TypeError: bad input");
    expect(traceback.some((line) => /at fail/.test(line))).toBe(true);
    expect(traceback.some((line) => /tslab|node:vm/.test(line))).toBe(false);
    const next = await kernel.execute('"still alive"');
    expect(next.reply.content.status).toBe("ok");
    expect(ofType(next.messages, "execute_result")[0]!.content.data).toEqual({ "text/plain": "'still alive'" });
  });

  it("reports TypeScript type errors as TSError with the diagnostic", async () => {
    const { reply, messages } = await kernel.execute('const n: number = "text";');
    expect(reply.content).toMatchObject({ status: "error", ename: "TSError" });
    expect(reply.content.evalue).toMatch(/^1:7 - error TS2322: Type 'string' is not assignable to type 'number'\.$/);
    expect(ofType(messages, "error")).toHaveLength(1);
    expect(ofType(messages, "execute_result")).toEqual([]);
  });

  it("aborts only the requests already queued behind a failure with stop_on_error", async () => {
    const failing = kernel.execute('await new Promise((r) => setTimeout(r, 300)); throw new Error("late failure");');
    const queued = [kernel.execute('console.log("queued 1")'), kernel.execute('console.log("queued 2")')];
    expect((await failing).reply.content.status).toBe("error");
    for (const result of await Promise.all(queued)) {
      expect(result.reply.content.status).toBe("aborted");
      expect(ofType(result.messages, "stream")).toEqual([]);
    }
    const after = await kernel.execute("1 + 1");
    expect(after.reply.content.status).toBe("ok");
  });

  it("keeps queued requests running after a failure with stop_on_error false", async () => {
    const failing = kernel.execute('await new Promise((r) => setTimeout(r, 200)); throw new Error("tolerated");', { stopOnError: false });
    const queued = kernel.execute("2 + 2");
    expect((await failing).reply.content.status).toBe("error");
    const result = await queued;
    expect(result.reply.content.status).toBe("ok");
    expect(ofType(result.messages, "execute_result")[0]!.content.data).toEqual({ "text/plain": "4" });
  });

  it("streams a blocking cell's output while it runs, after any number of earlier messages", async () => {
    // zeromq.js defers one send to a later event-loop turn after 512 immediate ones; iopub
    // must not let that hold back the output of a cell that blocks the loop.
    const arrivals: number[] = [];
    const { reply } = await kernel.execute(
      [
        `import { display } from ${displayChannel};`,
        `import { mimeBundle } from ${mimeBundleModule};`,
        'for (let i = 0; i < 600; i++) display(mimeBundle({ "text/plain": String(i) }));',
        "const until = Date.now() + 1500;",
        "let next = 0;",
        'while (Date.now() < until) { if (Date.now() >= next) { console.log("tick"); next = Date.now() + 100; } }',
      ].join("\n"),
      { onMessage: (m) => m.header.msg_type === "stream" && arrivals.push(performance.now()) },
    );
    const replyAt = performance.now();
    expect(reply.content.status).toBe("ok");
    expect(arrivals.length).toBeGreaterThan(1);
    expect(replyAt - arrivals[0]!).toBeGreaterThan(700);
  });

  it("runs silent requests without execute_input, result or a new count", async () => {
    const before = (await kernel.execute("0")).reply.content.execution_count as number;
    const silent = await kernel.execute("console.log('quiet'); 5", { silent: true });
    expect(outputs(silent.messages).map((m) => m.header.msg_type)).toEqual(["stream"]);
    expect(silent.reply.content.execution_count).toBe(before);
    expect((await kernel.execute("0")).reply.content.execution_count).toBe(before + 1);
  });
});

describe("rich output", () => {
  it("emits display_data and update_display_data carrying several mime types", async () => {
    const code = [
      `import { display, updateDisplay } from ${displayChannel};`,
      `import { mimeBundle } from ${mimeBundleModule};`,
      `const handle = display(mimeBundle({ "text/plain": "v1", "text/html": "<b>v1</b>", "image/svg+xml": "<svg/>" }), { displayId: "chart-1" });`,
      `updateDisplay("chart-1", mimeBundle({ "text/plain": "v2", "text/html": "<b>v2</b>" }, { isolated: true }));`,
    ].join("\n");
    const { reply, messages } = await kernel.execute(code);
    expect(reply.content.status).toBe("ok");
    const [shown] = ofType(messages, "display_data");
    expect(shown!.content).toEqual({
      data: { "text/plain": "v1", "text/html": "<b>v1</b>", "image/svg+xml": "<svg/>" },
      metadata: {},
      transient: { display_id: "chart-1" },
    });
    const [updated] = ofType(messages, "update_display_data");
    expect(updated!.content).toEqual({
      data: { "text/plain": "v2", "text/html": "<b>v2</b>" },
      metadata: { isolated: true },
      transient: { display_id: "chart-1" },
    });
  });

  it("shows a mime bundle returned as the cell's value with all its mime types", async () => {
    const { messages } = await kernel.execute(`mimeBundle({ "text/plain": "table", "text/html": "<table></table>" })`);
    expect(ofType(messages, "execute_result")[0]!.content).toMatchObject({ data: { "text/plain": "table", "text/html": "<table></table>" } });
  });

  it("routes tslab's own display API to display_data", async () => {
    const { messages } = await kernel.execute('import * as tslab from "tslab";\ntslab.display.html("<i>hi</i>");');
    expect(ofType(messages, "display_data")[0]!.content.data).toEqual({ "text/html": "<i>hi</i>" });
  });
});

describe("editor support through tslab", () => {
  it("answers is_complete", async () => {
    const incomplete = await kernel.request("shell", "is_complete_request", { code: "function f() {" });
    expect(incomplete.reply.content).toEqual({ status: "incomplete", indent: "  " });
    const complete = await kernel.request("shell", "is_complete_request", { code: "1 + 1" });
    expect(complete.reply.content).toEqual({ status: "complete" });
  });

  it("answers complete_request with candidates and the span they replace", async () => {
    const code = "const migrationState = 1;\nmigrationSt";
    const { reply } = await kernel.request("shell", "complete_request", { code, cursor_pos: code.length });
    expect(reply.content).toMatchObject({ status: "ok", cursor_start: code.length - "migrationSt".length, cursor_end: code.length });
    expect(reply.content.matches).toContain("migrationState");
  });

  it("answers inspect_request with the symbol's type", async () => {
    const code = "const pages: number[] = [1, 2];\npages";
    const { reply } = await kernel.request("shell", "inspect_request", { code, cursor_pos: code.length - 2, detail_level: 0 });
    expect(reply.content).toMatchObject({ status: "ok", found: true });
    expect((reply.content.data as Record<string, string>)["text/plain"]).toContain("const pages: number[]");
  });
});

describe("modules", () => {
  it("imports an ES module that uses top-level await through importEsm", async () => {
    const { reply, messages } = await kernel.execute(
      `import { importEsm } from ${importEsmModule};\nconst tla = await importEsm<{ value: string }>("./tla.mjs");\ntla.value`,
    );
    expect(reply.content.status).toBe("ok");
    expect(ofType(messages, "execute_result")[0]!.content.data).toEqual({ "text/plain": "'loaded with top-level await'" });
  });

  it("imports the package's own root export by name", async () => {
    const { reply, messages } = await kernel.execute('import { display as show, importEsm as load } from "vfio-workbench";\n[typeof show, typeof load]');
    expect(reply.content).toMatchObject({ status: "ok" });
    expect(ofType(messages, "execute_result")[0]!.content.data).toEqual({ "text/plain": "[ 'function', 'function' ]" });
  });
});

describe("interrupts", () => {
  it("stops a blocking loop on interrupt_request and stays usable", async () => {
    const probe = startedRunning();
    const running = kernel.execute("let spins = 0;\nwhile (true) { spins++; }", { onMessage: probe.onMessage });
    await probe.started;
    await kernel.interrupt();
    const { reply, messages } = await running;
    expect(reply.content).toMatchObject({ status: "error", ename: "KeyboardInterrupt" });
    expect(ofType(messages, "error")).toHaveLength(1);
    const after = await kernel.execute("1 + 2");
    expect(ofType(after.messages, "execute_result")[0]!.content.data).toEqual({ "text/plain": "3" });
  });

  it("stops a cell waiting on a promise on SIGINT", async () => {
    const probe = startedRunning();
    const running = kernel.execute("await new Promise(() => {});", { onMessage: probe.onMessage });
    await probe.started;
    kernel.process!.kill("SIGINT");
    expect((await running).reply.content).toMatchObject({ status: "error", ename: "KeyboardInterrupt" });
    expect((await kernel.execute("'ok'")).reply.content.status).toBe("ok");
  });
});

describe("other shell requests", () => {
  it("answers comm_info and history, and closes comms it has no target for", async () => {
    expect((await kernel.request("shell", "comm_info_request", {})).reply.content).toEqual({ status: "ok", comms: {} });
    expect((await kernel.request("shell", "history_request", { hist_access_type: "tail", n: 10 })).reply.content).toEqual({ status: "ok", history: [] });
    const closed = new Promise<JupyterMessage>((resolve) => {
      kernel.onIopub = (m) => {
        if (m.header.msg_type === "comm_close") resolve(m);
      };
    });
    const header = newHeader("comm_open", kernel.session, "tester");
    const shell = new zmq.Dealer({ linger: 0 });
    shell.connect(endpoint(kernel.connection, "shell"));
    await shell.send(encodeMessage({ identities: [], header, parent_header: {}, metadata: {}, content: { comm_id: "c-1", target_name: "jupyter.widget", data: {} } }, new Signer(kernel.connection.key)));
    expect((await closed).content).toEqual({ comm_id: "c-1", data: {} });
    kernel.onIopub = null;
    shell.close();
  });
});

describe("message signatures", () => {
  it("ignores a request signed with the wrong key", async () => {
    const shell = new zmq.Dealer({ linger: 0, receiveTimeout: 1000 });
    shell.connect(endpoint(kernel.connection, "shell"));
    const forged = encodeMessage(
      { identities: [], header: newHeader("kernel_info_request", "intruder", "x"), parent_header: {}, metadata: {}, content: {} },
      new Signer("not-the-key"),
    );
    await shell.send(forged);
    await expect(shell.receive()).rejects.toThrow();
    // The same request, correctly signed, is answered on the same socket.
    const signer = new Signer(kernel.connection.key);
    await shell.send(encodeMessage({ identities: [], header: newHeader("kernel_info_request", "s", "x"), parent_header: {}, metadata: {}, content: {} }, signer));
    expect(decodeMessage(await shell.receive(), signer).header.msg_type).toBe("kernel_info_reply");
    shell.close();
    expect(kernel.kernelStderr).toMatch(/rejected message: message signature does not match/);
  });
});

describe("shutdown", () => {
  it("replies to shutdown_request on control and exits", async () => {
    const exited = new Promise<number | null>((resolve) => kernel.process!.once("exit", (code) => resolve(code)));
    const { reply } = await kernel.request("control", "shutdown_request", { restart: false });
    expect(reply.content).toEqual({ status: "ok", restart: false });
    expect(await exited).toBe(0);
  });
});
