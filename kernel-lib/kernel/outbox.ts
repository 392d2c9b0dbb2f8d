import type * as zmq from "zeromq";

/**
 * Options for the kernel's sending sockets (ROUTER and PUB), which never block on a send:
 * ZeroMQ drops what a peer cannot take. With a send timeout of 0, zeromq.js hands every
 * message to ZeroMQ at once. Otherwise it defers one send in every 513 to a later event-loop
 * turn, and that send (with all that must follow it in order) would wait until the running
 * cell returns to the loop: a blocking cell's output would stop streaming.
 */
export const IMMEDIATE_SEND = { sendTimeout: 0 } as const;

/** Sends on a socket made with IMMEDIATE_SEND: each message is queued before send() returns, in call order. */
export class Outbox {
  constructor(
    private readonly socket: zmq.Writable & { readonly closed: boolean },
    private readonly report: (err: unknown) => void,
  ) {}

  send(frames: Buffer[]): void {
    if (this.socket.closed) return;
    try {
      this.socket.send(frames).catch(this.report);
    } catch (err) {
      this.report(err);
    }
  }
}
