/**
 * The page's side of the live runner (bundled into dist/browser/live-runner.js): runs cells one at
 * a time in a Web Worker and enforces a time limit. A cell past its limit cannot be interrupted
 * inside the worker, so the worker is terminated and a new one started; it first runs again,
 * silently, every cell that had succeeded, so the declarations and the emulator's state the next
 * cell expects are back (the emulator is deterministic, so they come back the same).
 */
import type { CellOutput, WorkerReply, WorkerRequest } from "./protocol.js";

export type { CellOutput } from "./protocol.js";

export interface LiveRunnerOptions {
  /** the worker script (live-worker.js) */
  workerUrl: string;
  typescriptUrl: string;
  libraryUrl: string;
  /** how long a cell may run, in milliseconds (default 30 000) */
  timeLimitMs?: number;
}

export interface CellRun {
  ok: boolean;
  outputs: CellOutput[];
  /** the cell ran past the time limit and the worker was restarted */
  timedOut: boolean;
}

const DEFAULT_TIME_LIMIT_MS = 30_000;

export class LiveRunner {
  private worker: Worker | null = null;
  private nextId = 1;
  private executionCount = 0;
  /** cells that succeeded, in order: what a new worker replays */
  private history: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** ends the request in flight, as if it had timed out, when the reader interrupts */
  private stopCurrent: (() => void) | null = null;
  private interrupted = false;

  constructor(private readonly options: LiveRunnerOptions) {}

  /** Runs a cell after every cell asked for before it. */
  run(code: string): Promise<CellRun> {
    const next = this.queue.then(() => this.runNow(code));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Stops the cell that is running: a worker cannot be interrupted from outside, so it is
   * terminated, and the next cell runs in a new one after the cells that had succeeded.
   */
  interrupt(): void {
    if (!this.stopCurrent) return;
    this.interrupted = true;
    this.stopCurrent();
  }

  /** Forgets every declaration and the emulator's state: the next cell starts in a new worker. */
  reset(): void {
    this.worker?.terminate();
    this.worker = null;
    this.history = [];
    this.executionCount = 0;
  }

  private async runNow(code: string): Promise<CellRun> {
    if (!this.worker) {
      this.worker = new Worker(this.options.workerUrl, { type: "module" });
      for (const earlier of this.history) {
        const replay = await this.send(earlier, 0, Infinity);
        if (!replay || !replay.ok) {
          this.history = [];
          break;
        }
      }
    }
    const count = ++this.executionCount;
    const limit = this.options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS;
    const reply = await this.send(code, count, limit);
    if (reply === null) {
      this.worker?.terminate();
      this.worker = null;
      if (this.interrupted) {
        this.interrupted = false;
        return { ok: false, timedOut: false, outputs: [{ output_type: "error", ename: "KeyboardInterrupt", evalue: "the cell was interrupted", traceback: ["KeyboardInterrupt: the cell was interrupted"] }] };
      }
      const seconds = limit / 1000;
      return {
        ok: false,
        timedOut: true,
        outputs: [{ output_type: "error", ename: "TimeoutError", evalue: `the cell ran past the live runner's limit of ${seconds} s and was stopped`, traceback: [`TimeoutError: the cell ran past the live runner's limit of ${seconds} s and was stopped`] }],
      };
    }
    if (reply.ok) this.history.push(code);
    return { ok: reply.ok, outputs: reply.outputs, timedOut: false };
  }

  /** One request to the worker; null when it did not answer within `limitMs`. */
  private send(code: string, executionCount: number, limitMs: number): Promise<WorkerReply | null> {
    const worker = this.worker!;
    const id = this.nextId++;
    const request: WorkerRequest = { id, code, executionCount, typescriptUrl: this.options.typescriptUrl, libraryUrl: this.options.libraryUrl };
    return new Promise((resolve) => {
      const timer = Number.isFinite(limitMs) ? setTimeout(() => done(null), limitMs) : undefined;
      const onMessage = (event: MessageEvent<WorkerReply>) => {
        if (event.data.id === id) done(event.data);
      };
      const onError = (event: ErrorEvent) => {
        event.preventDefault();
        done({ id, ok: false, outputs: [{ output_type: "error", ename: "Error", evalue: `the live runner's worker failed: ${event.message}`, traceback: [] }] });
      };
      const done = (reply: WorkerReply | null) => {
        clearTimeout(timer);
        this.stopCurrent = null;
        worker.removeEventListener("message", onMessage);
        worker.removeEventListener("error", onError);
        resolve(reply);
      };
      this.stopCurrent = () => done(null);
      worker.addEventListener("message", onMessage);
      worker.addEventListener("error", onError);
      worker.postMessage(request);
    });
  }
}
