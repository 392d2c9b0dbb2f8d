import type * as zmq from "zeromq";

/**
 * Ordered sends on one ZeroMQ socket. zeromq queues a message synchronously when it can (so a
 * cell stuck in a loop still streams its output), but allows only one send to wait at a time:
 * when one is waiting, later messages line up behind it here.
 */
export class Outbox {
  private readonly queue: Buffer[][] = [];
  private draining = false;
  private last: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: zmq.Writable & { readonly closed: boolean },
    private readonly report: (err: unknown) => void,
  ) {}

  send(frames: Buffer[]): void {
    if (this.socket.closed) return;
    if (!this.draining) {
      try {
        this.last = this.socket.send(frames).catch(this.report);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== "EBUSY") {
          this.report(err);
          return;
        }
      }
    }
    this.queue.push(frames);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      await this.last;
      for (let frames = this.queue.shift(); frames; frames = this.queue.shift()) {
        if (this.socket.closed) break;
        await this.socket.send(frames).catch(this.report);
      }
    } finally {
      this.draining = false;
      this.queue.length = 0;
    }
  }
}
