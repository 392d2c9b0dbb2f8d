import type { ConnectionInfo } from "./connection.js";
import type { MessageHeader } from "./wire.js";

/**
 * What the execution thread (shell and iopub sockets, cells) and the control thread
 * (control, stdin and heartbeat sockets) say to each other. The control thread keeps
 * answering heartbeats, interrupts and shutdowns while a cell blocks the execution thread.
 */

/** Shared Int32 slots the execution thread updates and the control thread reads. */
export const STATE_SERIAL = 0; // incremented at the start of every execution
export const STATE_EXECUTING = 1; // 1 while a cell runs
export const STATE_SLOTS = 2;

export interface ControlThreadConfig {
  connection: ConnectionInfo;
  session: string;
  kernelInfo: Record<string, unknown>;
  state: SharedArrayBuffer;
}

/** execution thread -> control thread */
export type ToControlThread = { kind: "close" };

/** control thread -> execution thread */
export type FromControlThread =
  | { kind: "ready" }
  | { kind: "log"; text: string }
  | { kind: "fatal"; text: string }
  /** a control request was answered; iopub (owned by the execution thread) still owes its busy/idle status */
  | { kind: "handled"; request: MessageHeader }
  | { kind: "shutdown"; request: MessageHeader; restart: boolean };
