import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

/** The JSON file a Jupyter client hands a kernel: where to bind and how to sign. */
export interface ConnectionInfo {
  transport: "tcp" | "ipc";
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

export type Channel = "shell" | "iopub" | "stdin" | "control" | "hb";

const PORT_FIELDS = ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"] as const;

export function parseConnectionInfo(text: string, source: string): ConnectionInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not JSON (${(err as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null) throw new Error(`${source}: not a JSON object`);
  const info = raw as Record<string, unknown>;
  const transport = info.transport ?? "tcp";
  if (transport !== "tcp" && transport !== "ipc") throw new Error(`${source}: transport must be "tcp" or "ipc", got ${JSON.stringify(transport)}`);
  if (typeof info.ip !== "string" || info.ip === "") throw new Error(`${source}: "ip" is missing`);
  for (const field of PORT_FIELDS) {
    const port = info[field];
    if (typeof port !== "number" || !Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new Error(`${source}: "${field}" must be a port number, got ${JSON.stringify(port)}`);
    }
  }
  if (typeof info.key !== "string") throw new Error(`${source}: "key" is missing`);
  const scheme = info.signature_scheme ?? "hmac-sha256";
  if (typeof scheme !== "string") throw new Error(`${source}: "signature_scheme" must be a string`);
  return { ...(info as unknown as ConnectionInfo), transport, signature_scheme: scheme };
}

export function readConnectionFile(path: string): ConnectionInfo {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read connection file ${path}: ${(err as Error).message}`);
  }
  return parseConnectionInfo(text, path);
}

/** The ZeroMQ endpoint of a channel; ipc endpoints are "<ip>-<port>" files, as jupyter_client names them. */
export function endpoint(info: ConnectionInfo, channel: Channel): string {
  const port = info[`${channel}_port`];
  return info.transport === "ipc" ? `ipc://${info.ip}-${port}` : `tcp://${info.ip}:${port}`;
}

/**
 * Connection info for a kernel we start ourselves: ipc sockets under `socketPrefix`
 * (a path in a private temporary folder), so there are no TCP port races.
 */
export function newIpcConnection(socketPrefix: string): ConnectionInfo {
  return {
    transport: "ipc",
    ip: socketPrefix,
    shell_port: 1,
    iopub_port: 2,
    stdin_port: 3,
    control_port: 4,
    hb_port: 5,
    key: randomUUID(),
    signature_scheme: "hmac-sha256",
    kernel_name: "vfio-workbench",
  };
}
