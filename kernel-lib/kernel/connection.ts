import { randomInt, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

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

const LOWEST_PORT = 10_000;

/** The lowest port the OS hands out for outgoing connections (Linux: ip_local_port_range). */
function ephemeralPortFloor(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 2 * LOWEST_PORT) return low;
  } catch {
    // not Linux: IANA's dynamic range begins here
  }
  return 49152;
}

/** Whether `port` can be listened on at 127.0.0.1 now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * Connection info on loopback TCP ports, as Jupyter writes it by default: the form every kernel
 * understands (tslab, for one, names ipc endpoints differently from jupyter_client). The ports
 * are free when chosen; another process could still take one before the kernel binds it.
 */
export async function newTcpConnection(kernelName = "vfio-workbench"): Promise<ConnectionInfo> {
  // Below the ephemeral range: a port the OS could also give a connecting socket (the client's
  // own, retrying before the kernel has bound) can end in a TCP self-connect or in the kernel's
  // bind failing, and a kernel that does not exit on that hangs its client.
  const ceiling = ephemeralPortFloor();
  const ports: number[] = [];
  while (ports.length < PORT_FIELDS.length) {
    const port = randomInt(LOWEST_PORT, ceiling);
    if (!ports.includes(port) && (await portIsFree(port))) ports.push(port);
  }
  const [shell_port, iopub_port, stdin_port, control_port, hb_port] = ports as [number, number, number, number, number];
  return { transport: "tcp", ip: "127.0.0.1", shell_port, iopub_port, stdin_port, control_port, hb_port, key: randomUUID(), signature_scheme: "hmac-sha256", kernel_name: kernelName };
}
