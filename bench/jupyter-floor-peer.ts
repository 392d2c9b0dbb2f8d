/**
 * The cheapest thing a Jupyter client can talk to: a process that binds shell and iopub,
 * checks signatures and answers with the messages a kernel sends for a cell (status busy,
 * execute_input, execute_result, execute_reply, status idle), but runs no code. The cell's
 * text is a number of milliseconds to busy-wait in place of running it. `kernel-cell` times
 * it to show how much of the kernel's overhead ZeroMQ and the message format cost by themselves.
 *
 * With --raw it speaks no Jupyter at all: a request is [milliseconds, round], and the answer is
 * the same five messages' bytes, encoded once at start (no JSON, no signatures per message),
 * each tagged with the round; zeromq-floor.ts is its client. That is ZeroMQ's own floor.
 *
 * argv: -f CONNECTION_FILE [--raw]. Runs until killed.
 */
import * as zmq from "zeromq";
import { endpoint, readConnectionFile, type ConnectionInfo } from "../kernel-lib/kernel/connection.js";
import { IMMEDIATE_SEND } from "../kernel-lib/kernel/outbox.js";
import { decodeMessage, encodeMessage, newHeader, Signer, type JupyterMessage } from "../kernel-lib/kernel/wire.js";

const SESSION = "jupyter-floor-peer";
const USERNAME = "kernel";

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

async function bindShellAndIopub(connection: ConnectionInfo): Promise<{ shell: zmq.Router; iopub: zmq.Publisher }> {
  const shell = new zmq.Router({ linger: 0, ...IMMEDIATE_SEND });
  const iopub = new zmq.Publisher({ linger: 0, ...IMMEDIATE_SEND });
  await Promise.all([shell.bind(endpoint(connection, "shell")), iopub.bind(endpoint(connection, "iopub"))]);
  return { shell, iopub };
}

const send = (socket: zmq.Router | zmq.Publisher, frames: Buffer[]) => void socket.send(frames).catch(() => undefined);

async function serve(connectionFile: string): Promise<void> {
  const connection = readConnectionFile(connectionFile);
  const signer = new Signer(connection.key, connection.signature_scheme);
  const { shell, iopub } = await bindShellAndIopub(connection);

  const encode = (request: JupyterMessage, msgType: string, content: Record<string, unknown>, identities: Uint8Array[]) =>
    encodeMessage({ identities, header: newHeader(msgType, SESSION, USERNAME), parent_header: request.header, metadata: {}, content }, signer);
  const onIopub = (request: JupyterMessage, msgType: string, content: Record<string, unknown>) =>
    encode(request, msgType, content, [Buffer.from(`kernel.${SESSION}.${msgType}`)]);

  let count = 0;
  for await (const frames of shell) {
    const request = decodeMessage(frames, signer);
    send(iopub, onIopub(request, "status", { execution_state: "busy" }));
    if (request.header.msg_type === "execute_request") {
      const code = String(request.content.code);
      count++;
      send(iopub, onIopub(request, "execute_input", { code, execution_count: count }));
      busyWait(Number(code));
      // Encoded first and sent back to back, as the kernel does.
      const result = onIopub(request, "execute_result", { execution_count: count, data: { "text/plain": "2" }, metadata: {} });
      const reply = encode(request, "execute_reply", { status: "ok", execution_count: count, payload: [], user_expressions: {} }, request.identities);
      const idle = onIopub(request, "status", { execution_state: "idle" });
      send(iopub, result);
      send(shell, reply);
      send(iopub, idle);
    } else {
      send(shell, encode(request, request.header.msg_type.replace(/_request$/, "_reply"), { status: "ok" }, request.identities));
      send(iopub, onIopub(request, "status", { execution_state: "idle" }));
    }
  }
}

/** Frames of a typical message of each kind, with the routing prefix left off. */
function typicalMessages(signer: Signer): Record<"busy" | "input" | "result" | "reply" | "idle", Buffer[]> {
  const request = { header: newHeader("execute_request", "client", "user") } as JupyterMessage;
  const frames = (msgType: string, content: Record<string, unknown>) =>
    encodeMessage({ identities: [], header: newHeader(msgType, SESSION, USERNAME), parent_header: request.header, metadata: {}, content }, signer);
  return {
    busy: frames("status", { execution_state: "busy" }),
    input: frames("execute_input", { code: "1+1", execution_count: 1 }),
    result: frames("execute_result", { execution_count: 1, data: { "text/plain": "2" }, metadata: {} }),
    reply: frames("execute_reply", { status: "ok", execution_count: 1, payload: [], user_expressions: {} }),
    idle: frames("status", { execution_state: "idle" }),
  };
}

async function serveRaw(connectionFile: string): Promise<void> {
  const connection = readConnectionFile(connectionFile);
  const { shell, iopub } = await bindShellAndIopub(connection);
  const typical = typicalMessages(new Signer(connection.key, connection.signature_scheme));
  const topic = (name: string) => Buffer.from(`kernel.${SESSION}.${name}`);
  const topics = { busy: topic("busy"), input: topic("input"), result: topic("result"), idle: topic("idle") };
  for await (const [identity, ms, round] of shell) {
    send(iopub, [topics.busy, ...typical.busy, round!]);
    send(iopub, [topics.input, ...typical.input, round!]);
    busyWait(Number(ms!.toString()));
    send(iopub, [topics.result, ...typical.result, round!]);
    send(shell, [identity!, ...typical.reply, round!]);
    send(iopub, [topics.idle, ...typical.idle, round!]);
  }
}

const at = process.argv.indexOf("-f");
if (at < 0 || !process.argv[at + 1]) {
  process.stderr.write("usage: jupyter-floor-peer.js -f CONNECTION_FILE [--raw]\n");
  process.exit(2);
}
await (process.argv.includes("--raw") ? serveRaw : serve)(process.argv[at + 1]!);
