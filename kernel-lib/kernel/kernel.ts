import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { inspect } from "node:util";
import { Worker } from "node:worker_threads";
import * as zmq from "zeromq";
import { isMimeBundle } from "../display/mime-bundle.js";
import { CellRunner, describeThrown, type CellError } from "./cell-runner.js";
import { codePointsToUtf16, utf16ToCodePoints } from "./code-points.js";
import { endpoint, readConnectionFile, type ConnectionInfo } from "./connection.js";
import { jsonSafeData, setDisplaySink, type MimeData } from "../display/display-channel.js";
import { kernelInfoContent } from "./kernel-info.js";
import { OutputCapture } from "./output-capture.js";
import { IMMEDIATE_SEND, Outbox } from "./outbox.js";
import { enableSelfReferenceTypes } from "./self-reference.js";
import {
  STATE_EXECUTING,
  STATE_SERIAL,
  STATE_SLOTS,
  type ControlThreadConfig,
  type FromControlThread,
  type ToControlThread,
} from "./thread-protocol.js";
import { tslabJupyterModule } from "./tslab-internals.js";
import { decodeMessage, encodeMessage, newHeader, Signer, WireError, type JupyterMessage, type MessageHeader } from "./wire.js";

/**
 * The kernel's execution thread: owns the shell and iopub sockets, runs cells in order with
 * tslab and turns what happens into Jupyter messages (status, execute_input, stream,
 * display_data, execute_result, error, replies). A worker (control-thread.ts) owns the
 * control, stdin and heartbeat sockets.
 */

const USERNAME = "kernel";
/** How long the control thread gets to close its sockets when the kernel shuts down. */
const CLOSE_GRACE_MS = 2000;

interface Bundle {
  data: MimeData;
  metadata: Record<string, unknown>;
}

/** A cell's value as output data: a mime bundle keeps its representations, anything else is shown as util.inspect shows it. */
export function valueBundle(value: unknown): Bundle {
  if (isMimeBundle(value)) return { data: jsonSafeData(value.data), metadata: { ...value.metadata } };
  return { data: { "text/plain": inspect(value) }, metadata: {} };
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function int(value: unknown): number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0;
}

type Request = Omit<JupyterMessage, "buffers">;

class Kernel {
  private readonly session = randomUUID();
  private readonly state = new Int32Array(new SharedArrayBuffer(STATE_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  private readonly signer: Signer;
  private readonly capture: OutputCapture;
  private readonly shell = new zmq.Router({ linger: 500, ...IMMEDIATE_SEND });
  private readonly iopub = new zmq.Publisher({ linger: 500, sendHighWaterMark: 100_000, ...IMMEDIATE_SEND });
  private readonly shellOutbox: Outbox;
  private readonly iopubOutbox: Outbox;
  private worker!: Worker;
  private runnerInstance: CellRunner | undefined;
  private readonly queue: Request[] = [];
  private busy = false;
  private closing = false;
  private executionCount = 0;
  /** Output written outside any cell's run (timers, late promises) goes to the last cell, as in IPython. */
  private outputParent: MessageHeader | null = null;

  constructor(private readonly connection: ConnectionInfo) {
    this.signer = new Signer(connection.key, connection.signature_scheme);
    this.capture = new OutputCapture((name, text) => {
      if (this.outputParent) this.publish("stream", { name, text }, this.outputParent);
      else this.capture.log(text);
    });
    const report = (err: unknown) => this.capture.log(`vfio-workbench kernel: send failed: ${String(err)}`);
    this.shellOutbox = new Outbox(this.shell, report);
    this.iopubOutbox = new Outbox(this.iopub, report);
  }

  async start(): Promise<void> {
    try {
      await Promise.all([this.shell.bind(endpoint(this.connection, "shell")), this.iopub.bind(endpoint(this.connection, "iopub"))]);
    } catch (err) {
      this.fatal(`cannot bind the kernel's sockets: ${err instanceof Error ? err.message : String(err)}`);
    }
    const config: ControlThreadConfig = {
      connection: this.connection,
      session: this.session,
      kernelInfo: kernelInfoContent(),
      state: this.state.buffer as SharedArrayBuffer,
    };
    this.worker = new Worker(new URL("./control-thread.js", import.meta.url), { workerData: config });
    this.worker.on("message", (message: FromControlThread) => void this.onControlThread(message));
    this.worker.on("error", (err) => this.fatal(`control thread failed: ${err.stack ?? err.message}`));
    this.worker.on("exit", (code) => {
      if (!this.closing) this.fatal(`control thread exited (code ${code})`);
    });

    this.capture.install();
    const sink = {
      display: (data: MimeData, metadata: Record<string, unknown>, displayId: string | undefined, update: boolean) => {
        this.capture.flush();
        const content = { data, metadata, transient: displayId ? { display_id: displayId } : {} };
        this.publish(update ? "update_display_data" : "display_data", content, this.outputParent ?? {});
      },
    };
    setDisplaySink(sink);
    // tslab's own `display` API (import * as tslab from "tslab") reaches the same outputs.
    tslabJupyterModule().lastWriteDisplayData = (data, update) => {
      const displayId = (data.transient as { display_id?: string } | undefined)?.display_id;
      sink.display(jsonSafeData(data.data as Record<string, unknown>), (data.metadata as Record<string, unknown>) ?? {}, displayId, update);
    };
    process.on("SIGINT", () => this.runnerInstance?.interrupt());
    process.on("uncaughtException", (err) => process.stderr.write(`Uncaught exception: ${err.stack ?? String(err)}\n`));
    process.on("unhandledRejection", (reason) =>
      process.stderr.write(`Unhandled promise rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : inspect(reason)}\n`),
    );

    enableSelfReferenceTypes(process.cwd());
    void this.receiveShell();
  }

  /**
   * tslab's converter takes about a second to build. It is built when a request first needs it,
   * or right after the first kernel_info_reply has gone out, so a client sees the kernel answer
   * as soon as its sockets are bound and the first cell pays for the rest.
   */
  private get runner(): CellRunner {
    this.runnerInstance ??= new CellRunner(process.cwd());
    return this.runnerInstance;
  }

  private async receiveShell(): Promise<void> {
    try {
      for await (const frames of this.shell) {
        let message: JupyterMessage;
        try {
          message = decodeMessage(frames, this.signer);
        } catch (err) {
          // Unsigned or forged messages are dropped, as the protocol requires.
          this.capture.log(`vfio-workbench kernel: shell: rejected message: ${err instanceof WireError ? err.message : String(err)}`);
          continue;
        }
        this.queue.push(message);
        void this.pump();
      }
    } catch (err) {
      if (!this.closing) this.fatal(`shell socket failed: ${String(err)}`);
    }
  }

  private publish(msgType: string, content: Record<string, unknown>, parent: MessageHeader | Record<string, never>): void {
    this.iopubOutbox.send(this.iopubFrames(msgType, content, parent));
  }

  private iopubFrames(msgType: string, content: Record<string, unknown>, parent: MessageHeader | Record<string, never>): Buffer[] {
    const header = newHeader(msgType, this.session, USERNAME);
    const topic = Buffer.from(`kernel.${this.session}.${msgType}`);
    return encodeMessage({ identities: [topic], header, parent_header: parent, metadata: {}, content }, this.signer);
  }

  private reply(request: Request, msgType: string, content: Record<string, unknown>): void {
    this.shellOutbox.send(this.replyFrames(request, msgType, content));
  }

  private replyFrames(request: Request, msgType: string, content: Record<string, unknown>): Buffer[] {
    const header = newHeader(msgType, this.session, USERNAME);
    return encodeMessage({ identities: request.identities, header, parent_header: request.header, metadata: {}, content }, this.signer);
  }

  private async onControlThread(message: FromControlThread): Promise<void> {
    switch (message.kind) {
      case "ready":
        return;
      case "log":
        this.capture.log(`vfio-workbench kernel: ${message.text}`);
        return;
      case "fatal":
        this.fatal(message.text);
        return;
      case "handled":
        this.publish("status", { execution_state: "busy" }, message.request);
        this.publish("status", { execution_state: "idle" }, message.request);
        return;
      case "shutdown":
        this.publish("status", { execution_state: "busy" }, message.request);
        this.publish("status", { execution_state: "idle" }, message.request);
        await this.shutdown();
        return;
    }
  }

  private fatal(text: string): never {
    this.capture.log(`vfio-workbench kernel: ${text}`);
    process.exit(1);
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (let request = this.queue.shift(); request && !this.closing; request = this.queue.shift()) {
        await this.handle(request);
      }
    } finally {
      this.busy = false;
    }
  }

  private async handle(request: Request): Promise<void> {
    const type = request.header.msg_type;
    const content = request.content;
    this.publish("status", { execution_state: "busy" }, request.header);
    try {
      switch (type) {
        case "execute_request":
          // a successful cell sends its idle status itself, right behind its reply
          if (await this.execute(request)) return;
          break;
        case "kernel_info_request":
          this.reply(request, "kernel_info_reply", kernelInfoContent());
          if (!this.runnerInstance) setImmediate(() => void this.runner);
          break;
        case "is_complete_request":
          this.reply(request, "is_complete_reply", this.runner.isComplete(str(content.code)));
          break;
        case "complete_request":
          this.reply(request, "complete_reply", this.complete(str(content.code), int(content.cursor_pos)));
          break;
        case "inspect_request":
          this.reply(request, "inspect_reply", this.inspect(str(content.code), int(content.cursor_pos)));
          break;
        case "comm_info_request":
          // No comm targets exist in this kernel.
          this.reply(request, "comm_info_reply", { status: "ok", comms: {} });
          break;
        case "comm_open":
          // The protocol's answer to an unknown comm target is an immediate comm_close.
          this.publish("comm_close", { comm_id: content.comm_id, data: {} }, request.header);
          break;
        case "history_request":
          // Cells are not recorded between sessions.
          this.reply(request, "history_reply", { status: "ok", history: [] });
          break;
        case "shutdown_request":
          this.reply(request, "shutdown_reply", { status: "ok", restart: content.restart === true });
          this.publish("status", { execution_state: "idle" }, request.header);
          await this.shutdown();
          return;
        default:
          this.capture.log(`vfio-workbench kernel: ignoring unsupported ${type} on shell`);
      }
    } catch (err) {
      this.capture.log(`vfio-workbench kernel: ${type} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    this.publish("status", { execution_state: "idle" }, request.header);
  }

  private complete(code: string, cursorPos: number): Record<string, unknown> {
    const result = this.runner.complete(code, codePointsToUtf16(code, cursorPos));
    return {
      status: "ok",
      matches: result.matches,
      cursor_start: utf16ToCodePoints(code, result.start),
      cursor_end: utf16ToCodePoints(code, result.end),
      metadata: {},
    };
  }

  private inspect(code: string, cursorPos: number): Record<string, unknown> {
    const text = this.runner.inspect(code, codePointsToUtf16(code, cursorPos));
    return text === null
      ? { status: "ok", found: false, data: {}, metadata: {} }
      : { status: "ok", found: true, data: { "text/plain": text }, metadata: {} };
  }

  /** Runs a cell; returns true when it already published the idle status. */
  private async execute(request: Request): Promise<boolean> {
    const content = request.content;
    const code = str(content.code);
    const silent = content.silent === true;
    const storeHistory = !silent && content.store_history !== false;
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    this.outputParent = request.header;
    if (!silent) this.publish("execute_input", { code, execution_count: count }, request.header);

    Atomics.add(this.state, STATE_SERIAL, 1);
    Atomics.store(this.state, STATE_EXECUTING, 1);
    let outcome;
    try {
      outcome = await this.runner.run(code);
    } finally {
      Atomics.store(this.state, STATE_EXECUTING, 0);
    }
    this.capture.flush();

    let error: CellError | null = outcome.status === "error" ? outcome.error : null;
    let result: Buffer[] | null = null;
    if (outcome.status === "ok" && outcome.value && !silent) {
      try {
        result = this.iopubFrames("execute_result", { execution_count: count, ...valueBundle(outcome.value.value) }, request.header);
      } catch (err) {
        error = describeThrown(err);
      }
    }
    if (error) {
      this.publish("error", { ...error }, request.header);
      this.reply(request, "execute_reply", { status: "error", execution_count: count, ...error });
      if (content.stop_on_error !== false) await this.abortQueuedExecutions();
      return false;
    }
    // Encode the cell's last three messages first and send them back to back, so a client
    // waiting for the reply and the idle status gets them in one wake-up.
    const reply = this.replyFrames(request, "execute_reply", {
      status: "ok",
      execution_count: count,
      payload: [],
      user_expressions: this.userExpressions(content.user_expressions),
    });
    const idle = this.iopubFrames("status", { execution_state: "idle" }, request.header);
    if (result) this.iopubOutbox.send(result);
    this.shellOutbox.send(reply);
    this.iopubOutbox.send(idle);
    return true;
  }

  private userExpressions(requested: unknown): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (typeof requested !== "object" || requested === null) return out;
    for (const name of Object.keys(requested)) {
      out[name] = { status: "error", ename: "NotSupported", evalue: "this kernel does not evaluate user_expressions", traceback: [] };
    }
    return out;
  }

  /**
   * After a failed cell with stop_on_error, the protocol aborts the execute requests that were
   * already waiting (a front end's "run all"). Requests that arrive later run normally: there
   * is no time window that swallows the next cell.
   */
  private async abortQueuedExecutions(): Promise<void> {
    // Let the shell loop take in what arrived while the cell ran (a timer, then one poll phase).
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise((resolve) => setImmediate(resolve));
    const keep: Request[] = [];
    for (const request of this.queue) {
      if (request.header.msg_type !== "execute_request") {
        keep.push(request);
        continue;
      }
      this.publish("status", { execution_state: "busy" }, request.header);
      this.reply(request, "execute_reply", { status: "aborted" });
      this.publish("status", { execution_state: "idle" }, request.header);
    }
    this.queue.splice(0, this.queue.length, ...keep);
  }

  private async shutdown(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.capture.uninstall();
    setDisplaySink(null);
    this.runnerInstance?.close();
    const exited = once(this.worker, "exit");
    this.worker.postMessage({ kind: "close" } satisfies ToControlThread);
    // Closing with linger lets the last replies and statuses reach the client.
    this.shell.close();
    this.iopub.close();
    const timeout = new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref());
    await Promise.race([exited, timeout]);
    process.exit(0);
  }
}

/** Starts a kernel for the given Jupyter connection file; it runs until a shutdown_request. */
export async function startKernel(connectionFile: string): Promise<void> {
  const connection = readConnectionFile(connectionFile);
  // Reject an unusable signature scheme before binding anything.
  new Signer(connection.key, connection.signature_scheme);
  await new Kernel(connection).start();
}
