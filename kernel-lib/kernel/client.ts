import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { performance } from "node:perf_hooks";
import { endpoint, newIpcConnection, newTcpConnection, type ConnectionInfo } from "./connection.js";
import { KernelError, KernelTimeoutError } from "./kernel-error.js";
import { kernelLauncherPath } from "./launcher-path.js";
import { decodeMessage, encodeMessage, newHeader, parentId, Signer, type JupyterMessage } from "./wire.js";

/**
 * A Jupyter client for one kernel, over ZeroMQ: sends requests on shell and control, follows
 * iopub, and pairs everything with the request it answers. `KernelClient.start()` also
 * launches a fresh kernel process (this package's kernel) for it to talk to.
 */

export interface StartOptions {
  /** the kernel's working directory (a notebook's folder) */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** the kernel entry point, run as `node LAUNCHER -f CONNECTION_FILE`; defaults to this package's launcher */
  launcher?: string;
  /**
   * Another kernel's command line, as its kernelspec's argv: "{connection_file}" stands for the
   * connection file (e.g. stock tslab's `tslab kernel --config-path {connection_file}`). Overrides `launcher`.
   */
  argv?: readonly string[];
  /** the sockets' transport; ipc (the default) needs no free ports, tcp is what Jupyter itself hands a kernel */
  transport?: "ipc" | "tcp";
  /** how long the kernel may take to answer its first kernel_info_request */
  startTimeoutMs?: number;
}

export interface RequestOptions {
  /** also wait for the kernel's `status: idle` for this request on iopub (the request's outputs are then complete) */
  waitIdle?: boolean;
  /** sees every iopub message of this request as it arrives */
  onMessage?: (message: JupyterMessage) => void;
  timeoutMs?: number;
}

export interface RequestResult {
  reply: JupyterMessage;
  /** iopub messages of this request, in arrival order (status messages included) */
  messages: JupyterMessage[];
}

export interface ExecuteOptions extends Omit<RequestOptions, "waitIdle"> {
  silent?: boolean;
  storeHistory?: boolean;
  stopOnError?: boolean;
}

interface Pending {
  reply?: JupyterMessage;
  idle: boolean;
  waitIdle: boolean;
  messages: JupyterMessage[];
  onMessage?: (message: JupyterMessage) => void;
  resolve(result: RequestResult): void;
  reject(err: Error): void;
}

const STDERR_TAIL = 16 * 1024;
const CONNECTION_FILE = "{connection_file}";
/**
 * How often a socket retries a kernel that has not bound yet (ZeroMQ's default is 100 ms, which
 * would hold a starting kernel's first reply back by up to that much).
 */
const RECONNECT_MS = 10;

export { KernelError, KernelTimeoutError };

export class KernelClient {
  readonly session = randomUUID();
  private readonly signer: Signer;
  private readonly shell = new zmq.Dealer({ linger: 0, reconnectInterval: RECONNECT_MS });
  private readonly control = new zmq.Dealer({ linger: 0, reconnectInterval: RECONNECT_MS });
  private readonly iopub = new zmq.Subscriber({ linger: 0, reconnectInterval: RECONNECT_MS });
  private readonly pending = new Map<string, Pending>();
  private readonly sendChains = new Map<zmq.Dealer, Promise<unknown>>();
  private closed = false;
  private exitError: KernelError | null = null;
  private stderrTail = "";
  /** ms from the kernel's spawn (for connect(): from the call) until its first kernel_info_reply */
  firstReplyMs: number | null = null;
  /** every iopub message, whatever request it answers (tests and tools may watch it) */
  onIopub: ((message: JupyterMessage) => void) | null = null;

  private constructor(
    readonly connection: ConnectionInfo,
    readonly process: ChildProcess | null,
    private readonly tempDir: string | null,
    /** performance.now() when the kernel was spawned (for connect(): when the call began) */
    readonly startedAt: number,
  ) {
    this.signer = new Signer(connection.key, connection.signature_scheme);
    this.shell.connect(endpoint(connection, "shell"));
    this.control.connect(endpoint(connection, "control"));
    this.iopub.connect(endpoint(connection, "iopub"));
    this.iopub.subscribe();
    void this.receive(this.shell);
    void this.receive(this.control);
    void this.receive(this.iopub);
    if (process) {
      process.stderr?.setEncoding("utf8");
      process.stderr?.on("data", (text: string) => {
        this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL);
      });
      process.stdout?.resume();
      process.on("error", (err) => {
        this.exitError = new KernelError(`cannot run the kernel: ${err.message}`);
        this.failAll(this.exitError);
      });
      process.on("exit", (code, signal) => {
        const detail = this.stderrTail.trim();
        this.exitError = new KernelError(`the kernel exited (${signal ?? `code ${code}`})${detail ? `:\n${detail}` : ""}`);
        this.failAll(this.exitError);
      });
    }
  }

  /** Launches a fresh kernel process and waits until it answers on shell and publishes on iopub. */
  static async start(options: StartOptions = {}): Promise<KernelClient> {
    if (options.argv?.length === 0) throw new KernelError("the kernel's argv is empty");
    const tempDir = mkdtempSync(join(tmpdir(), "vwb-kernel-"));
    const connection = options.transport === "tcp" ? await newTcpConnection() : newIpcConnection(join(tempDir, "k"));
    const connectionFile = join(tempDir, "connection.json");
    writeFileSync(connectionFile, JSON.stringify(connection), { mode: 0o600 });
    const argv = options.argv ?? [process.execPath, options.launcher ?? kernelLauncherPath(), "-f", CONNECTION_FILE];
    const [command, ...args] = argv.map((arg) => arg.replaceAll(CONNECTION_FILE, connectionFile)) as [string, ...string[]];
    const spawnedAt = performance.now();
    const child = spawn(command, args, {
      cwd: options.cwd ?? process.cwd(),
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const client = new KernelClient(connection, child, tempDir, spawnedAt);
    try {
      await client.waitReady(options.startTimeoutMs ?? 60_000);
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  /** Connects to a kernel that is already running. */
  static async connect(connection: ConnectionInfo, timeoutMs = 30_000): Promise<KernelClient> {
    const client = new KernelClient(connection, null, null, performance.now());
    try {
      await client.waitReady(timeoutMs);
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  /** The kernel's stderr so far (its own log; cell output goes to iopub). */
  get kernelStderr(): string {
    return this.stderrTail;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // The first reply may wait for the kernel to load TypeScript.
    await this.request("shell", "kernel_info_request", {}, { timeoutMs });
    this.firstReplyMs = performance.now() - this.startedAt;
    // A subscriber misses what was published before its subscription reached the kernel:
    // ask until the status messages of a request arrive on iopub too.
    for (;;) {
      try {
        await this.request("shell", "kernel_info_request", {}, { waitIdle: true, timeoutMs: 500 });
        return;
      } catch (err) {
        if (this.exitError || Date.now() > deadline) throw err;
      }
    }
  }

  private async receive(socket: zmq.Dealer | zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of socket) {
        let message: JupyterMessage;
        try {
          message = decodeMessage(frames, this.signer);
        } catch {
          continue; // unsigned or malformed: not from our kernel
        }
        this.dispatch(message, socket === this.iopub);
      }
    } catch (err) {
      if (!this.closed) this.failAll(new KernelError(`socket failed: ${String(err)}`));
    }
  }

  private dispatch(message: JupyterMessage, fromIopub: boolean): void {
    if (fromIopub) this.onIopub?.(message);
    const id = parentId(message);
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (!pending) return;
    if (fromIopub) {
      pending.messages.push(message);
      pending.onMessage?.(message);
      if (message.header.msg_type === "status" && message.content.execution_state === "idle") pending.idle = true;
    } else {
      pending.reply = message;
    }
    if (pending.reply && (pending.idle || !pending.waitIdle)) {
      this.pending.delete(id!);
      pending.resolve({ reply: pending.reply, messages: pending.messages });
    }
  }

  private failAll(err: Error): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(err);
    }
  }

  private sendFrames(socket: zmq.Dealer, frames: Buffer[]): Promise<unknown> {
    const next = (this.sendChains.get(socket) ?? Promise.resolve()).then(() => socket.send(frames));
    this.sendChains.set(socket, next.catch(() => undefined));
    return next;
  }

  /** Sends a request and waits for its reply (and, with waitIdle, for all its iopub output). */
  request(channel: "shell" | "control", msgType: string, content: Record<string, unknown>, options: RequestOptions = {}): Promise<RequestResult> {
    if (this.exitError) return Promise.reject(this.exitError);
    if (this.closed) return Promise.reject(new KernelError("the client is closed"));
    const header = newHeader(msgType, this.session, "vfio-workbench");
    const frames = encodeMessage({ identities: [], header, parent_header: {}, metadata: {}, content }, this.signer);
    return new Promise<RequestResult>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = <T>(fn: (value: T) => void) => (value: T) => {
        if (timer) clearTimeout(timer);
        fn(value);
      };
      this.pending.set(header.msg_id, {
        idle: false,
        waitIdle: options.waitIdle ?? false,
        messages: [],
        onMessage: options.onMessage,
        resolve: done(resolve),
        reject: done(reject),
      });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.pending.delete(header.msg_id);
          reject(new KernelTimeoutError(`no ${options.waitIdle ? "reply and idle status" : "reply"} to ${msgType} within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      }
      this.sendFrames(channel === "shell" ? this.shell : this.control, frames).catch((err: unknown) => {
        this.pending.delete(header.msg_id);
        reject(new KernelError(`cannot send ${msgType}: ${String(err)}`));
      });
    });
  }

  /** Runs code and returns the execute_reply with every iopub message the cell produced. */
  execute(code: string, options: ExecuteOptions = {}): Promise<RequestResult> {
    return this.request(
      "shell",
      "execute_request",
      {
        code,
        silent: options.silent ?? false,
        store_history: options.storeHistory ?? !(options.silent ?? false),
        user_expressions: {},
        allow_stdin: false,
        stop_on_error: options.stopOnError ?? true,
      },
      { ...options, waitIdle: true },
    );
  }

  /** Asks the kernel to interrupt the running cell (interrupt_request on control). */
  async interrupt(timeoutMs = 5000): Promise<void> {
    await this.request("control", "interrupt_request", {}, { timeoutMs });
  }

  /** shutdown_request on control, then waits for the process to exit (killing it if it does not). */
  async shutdown(timeoutMs = 5000): Promise<void> {
    if (!this.exitError && !this.closed) {
      try {
        await this.request("control", "shutdown_request", { restart: false }, { timeoutMs });
      } catch {
        // The process is dealt with below either way.
      }
    }
    await this.close(timeoutMs);
  }

  /** Closes the sockets; a kernel this client started is given `graceMs` to exit, then killed. */
  async close(graceMs = 0): Promise<void> {
    if (this.process && this.process.pid !== undefined && this.process.exitCode === null && this.process.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.process!.once("exit", () => resolve()));
      const timer = setTimeout(() => this.process!.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    }
    if (!this.closed) {
      this.closed = true;
      this.failAll(new KernelError("the client is closed"));
      this.shell.close();
      this.control.close();
      this.iopub.close();
    }
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }
}
