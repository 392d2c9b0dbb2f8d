import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { endpoint, newTcpConnection } from "../kernel-lib/kernel/connection.js";
import { KernelTimeoutError } from "../kernel-lib/kernel/kernel-error.js";

/**
 * Client of `jupyter-floor-peer.js --raw`: one round is a request on shell and the peer's five
 * prebuilt messages back (four on iopub, the reply on shell). Nothing is parsed or checked, so
 * a round trip costs what ZeroMQ costs, and no more.
 */

const READY_TIMEOUT_MS = 10_000;
/** How long start() gives one round to come back while the peer starts. */
const PROBE_TIMEOUT_MS = 500;

interface Round {
  reply: boolean;
  idle: boolean;
  done(): void;
}

export class RawFloorClient {
  private readonly shell = new zmq.Dealer({ linger: 0 });
  private readonly iopub = new zmq.Subscriber({ linger: 0 });
  private readonly rounds = new Map<string, Round>();
  private next = 0;
  private exited: Error | null = null;

  private constructor(
    private readonly peer: ChildProcess,
    private readonly dir: string,
    endpoints: { shell: string; iopub: string },
  ) {
    this.shell.connect(endpoints.shell);
    this.iopub.connect(endpoints.iopub);
    this.iopub.subscribe();
    void this.receive(this.shell, (round) => (round.reply = true));
    void this.receive(this.iopub, (round, topic) => {
      if (topic.endsWith(".idle")) round.idle = true;
    });
    peer.on("exit", (code, signal) => (this.exited = new Error(`the raw floor peer exited (${signal ?? `code ${code}`})`)));
  }

  /** Starts the peer and waits until its iopub messages reach this client. */
  static async start(peerPath: string): Promise<RawFloorClient> {
    const dir = mkdtempSync(join(tmpdir(), "vwb-zmq-floor-"));
    // loopback TCP, as the kernels it is set beside use
    const connection = await newTcpConnection("raw-floor");
    const file = join(dir, "connection.json");
    writeFileSync(file, JSON.stringify(connection), { mode: 0o600 });
    const peer = spawn(process.execPath, [peerPath, "-f", file, "--raw"], { stdio: ["ignore", "ignore", "inherit"] });
    const client = new RawFloorClient(peer, dir, { shell: endpoint(connection, "shell"), iopub: endpoint(connection, "iopub") });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      try {
        await client.roundTrip(0, PROBE_TIMEOUT_MS);
        return client;
      } catch (err) {
        if (client.exited || Date.now() > deadline) {
          client.close();
          throw err;
        }
      }
    }
  }

  private async receive(socket: zmq.Dealer | zmq.Subscriber, mark: (round: Round, topic: string) => void): Promise<void> {
    try {
      for await (const frames of socket) {
        const round = this.rounds.get(frames[frames.length - 1]!.toString());
        if (!round) continue;
        mark(round, frames[0]!.toString());
        if (round.reply && round.idle) round.done();
      }
    } catch {
      // closed
    }
  }

  /**
   * One round in which the peer busy-waits `ms`; resolves when the reply and the idle message
   * have both arrived, rejects with KernelTimeoutError when they have not within `timeoutMs`.
   */
  roundTrip(ms: number, timeoutMs: number): Promise<void> {
    if (this.exited) return Promise.reject(this.exited);
    const id = String(this.next++);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.rounds.delete(id);
        reject(new KernelTimeoutError(`the raw floor peer did not answer round ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.rounds.set(id, {
        reply: false,
        idle: false,
        done: () => {
          clearTimeout(timer);
          this.rounds.delete(id);
          resolve();
        },
      });
      this.shell.send([String(ms), id]).catch((err: unknown) => {
        clearTimeout(timer);
        this.rounds.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  close(): void {
    this.peer.kill();
    this.shell.close();
    this.iopub.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
