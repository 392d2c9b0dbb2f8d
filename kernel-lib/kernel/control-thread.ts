import { parentPort, workerData } from "node:worker_threads";
import * as zmq from "zeromq";
import { endpoint } from "./connection.js";
import { IMMEDIATE_SEND, Outbox } from "./outbox.js";
import { STATE_EXECUTING, STATE_SERIAL, type ControlThreadConfig, type FromControlThread, type ToControlThread } from "./thread-protocol.js";
import { decodeMessage, encodeMessage, newHeader, Signer, WireError, type JupyterMessage } from "./wire.js";

/**
 * The kernel's control thread (a worker): owns the control, stdin and heartbeat sockets, so
 * heartbeats, kernel_info, interrupt and shutdown are answered even while a cell blocks the
 * execution thread.
 */

if (!parentPort) throw new Error("control-thread.js runs only as a worker thread of the kernel");
const parent = parentPort;
const config = workerData as ControlThreadConfig;
const signer = new Signer(config.connection.key, config.connection.signature_scheme);
const state = new Int32Array(config.state);
/** How long an interrupt keeps re-raising SIGINT at a cell that has not stopped (a signal that lands while the cell is still compiling is not seen by the running script). */
const INTERRUPT_RETRY_MS = 250;
const INTERRUPT_RETRIES = 20;
/** After shutdown_reply, how long the execution thread gets to exit cleanly before the process is terminated. */
const SHUTDOWN_GRACE_MS = 3000;

function post(message: FromControlThread): void {
  parent.postMessage(message);
}

const report = (err: unknown) => post({ kind: "log", text: `control thread: send failed: ${String(err)}` });
const control = new zmq.Router({ linger: 500, ...IMMEDIATE_SEND });
const stdin = new zmq.Router({ linger: 0, ...IMMEDIATE_SEND });
const hb = new zmq.Reply({ linger: 0 });
const sockets = [control, stdin, hb];
const controlOutbox = new Outbox(control, report);

function reply(request: JupyterMessage, msgType: string, content: Record<string, unknown>): void {
  const header = newHeader(msgType, config.session, "kernel");
  controlOutbox.send(encodeMessage({ identities: request.identities, header, parent_header: request.header, metadata: {}, content }, signer));
}

/**
 * SIGINT stops a cell's synchronous part (the executor runs it with breakOnSigint) and a cell
 * waiting on a promise (the execution thread's SIGINT handler). JavaScript that loops from the
 * event loop (after an `await`, in a timer) cannot be stopped from outside without corrupting
 * Node's state; such a cell needs a kernel restart (the headless runner kills the kernel).
 */
function interrupt(): void {
  const serial = Atomics.load(state, STATE_SERIAL);
  const running = () => Atomics.load(state, STATE_EXECUTING) === 1 && Atomics.load(state, STATE_SERIAL) === serial;
  const wasRunning = running();
  process.kill(process.pid, "SIGINT");
  if (!wasRunning) return;
  let tries = 0;
  const timer = setInterval(() => {
    if (!running() || ++tries > INTERRUPT_RETRIES) {
      clearInterval(timer);
      return;
    }
    process.kill(process.pid, "SIGINT");
  }, INTERRUPT_RETRY_MS);
  timer.unref();
}

function handleControl(request: JupyterMessage): void {
  switch (request.header.msg_type) {
    case "kernel_info_request":
      reply(request, "kernel_info_reply", config.kernelInfo);
      break;
    case "interrupt_request":
      interrupt();
      reply(request, "interrupt_reply", { status: "ok" });
      break;
    case "shutdown_request": {
      const restart = request.content.restart === true;
      reply(request, "shutdown_reply", { status: "ok", restart });
      post({ kind: "shutdown", request: request.header, restart });
      // A cell that never yields would keep the execution thread from ever seeing the request.
      setTimeout(() => process.kill(process.pid, "SIGTERM"), SHUTDOWN_GRACE_MS).unref();
      return;
    }
    default:
      post({ kind: "log", text: `control: ignoring unsupported ${request.header.msg_type}` });
      return;
  }
  post({ kind: "handled", request: request.header });
}

async function receive(socket: zmq.Router, name: string, handle: (message: JupyterMessage) => void): Promise<void> {
  for await (const frames of socket) {
    let message: JupyterMessage;
    try {
      message = decodeMessage(frames, signer);
    } catch (err) {
      // Unsigned or forged messages are dropped, as the protocol requires.
      post({ kind: "log", text: `${name}: rejected message: ${err instanceof WireError ? err.message : String(err)}` });
      continue;
    }
    handle(message);
  }
}

async function echoHeartbeats(): Promise<void> {
  for await (const frames of hb) await hb.send(frames);
}

function watchForOrphaning(): void {
  // When whoever started the kernel dies without shutting it down, nobody can reach it any more.
  const initialParent = process.ppid;
  if (initialParent <= 1) return;
  setInterval(() => {
    if (process.ppid !== initialParent) {
      post({ kind: "log", text: `parent process ${initialParent} is gone; exiting` });
      process.kill(process.pid, "SIGTERM");
    }
  }, 2000).unref();
}

function closeAll(): void {
  for (const socket of sockets) socket.close();
  parent.close();
}

parent.on("message", (message: ToControlThread) => {
  if (message.kind === "close") closeAll();
});

try {
  await Promise.all([
    control.bind(endpoint(config.connection, "control")),
    stdin.bind(endpoint(config.connection, "stdin")),
    hb.bind(endpoint(config.connection, "hb")),
  ]);
} catch (err) {
  post({ kind: "fatal", text: `cannot bind the kernel's sockets: ${err instanceof Error ? err.message : String(err)}` });
  closeAll();
}

if (!control.closed) {
  watchForOrphaning();
  post({ kind: "ready" });
  const whenOpen = (err: unknown) => {
    if (!control.closed) post({ kind: "log", text: `control thread: ${String(err)}` });
  };
  receive(control, "control", handleControl).catch(whenOpen);
  // stdin stays silent: cells cannot ask the front end for input.
  receive(stdin, "stdin", (message) => post({ kind: "log", text: `stdin: ignoring ${message.header.msg_type}` })).catch(whenOpen);
  echoHeartbeats().catch(whenOpen);
}
