import { createHmac, getHashes, randomUUID, timingSafeEqual } from "node:crypto";

/**
 * Jupyter messaging wire format (protocol 5.3): ZeroMQ frames
 * `[identities..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers...]`,
 * with an HMAC over the four JSON frames.
 */

export const PROTOCOL_VERSION = "5.3";
const DELIMITER = Buffer.from("<IDS|MSG>");

export interface MessageHeader {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

export interface JupyterMessage<C = Record<string, unknown>> {
  /** routing prefix: ROUTER identities on shell/control/stdin, the topic on iopub */
  identities: Uint8Array[];
  header: MessageHeader;
  /** empty object when the message answers nothing */
  parent_header: MessageHeader | Record<string, never>;
  metadata: Record<string, unknown>;
  content: C;
  buffers: Uint8Array[];
}

/** Thrown for frames that are not a valid, correctly signed message. */
export class WireError extends Error {
  override name = "WireError";
}

/** Signs and checks messages with the connection's key; an empty key disables signing, as the spec says. */
export class Signer {
  private readonly key: Buffer;
  private readonly algorithm: string;

  constructor(key: string, scheme = "hmac-sha256") {
    this.key = Buffer.from(key, "utf8");
    const match = /^hmac-(.+)$/.exec(scheme);
    if (!match || !getHashes().includes(match[1]!)) {
      throw new WireError(`unsupported signature_scheme ${JSON.stringify(scheme)} (expected hmac-<hash>, e.g. hmac-sha256)`);
    }
    this.algorithm = match[1]!;
  }

  get enabled(): boolean {
    return this.key.length > 0;
  }

  sign(parts: ReadonlyArray<Uint8Array | string>): string {
    if (!this.enabled) return "";
    const hmac = createHmac(this.algorithm, this.key);
    for (const part of parts) hmac.update(part);
    return hmac.digest("hex");
  }

  verify(signature: string, parts: ReadonlyArray<Uint8Array | string>): boolean {
    if (!this.enabled) return true;
    const expected = Buffer.from(this.sign(parts), "utf8");
    const given = Buffer.from(signature, "utf8");
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

export function newHeader(msgType: string, session: string, username: string): MessageHeader {
  return {
    msg_id: randomUUID(),
    session,
    username,
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

/** Serialises a message into ZeroMQ frames, signing the four JSON parts. */
export function encodeMessage(message: Omit<JupyterMessage<unknown>, "buffers"> & { buffers?: Uint8Array[] }, signer: Signer): Buffer[] {
  const parts = [
    Buffer.from(JSON.stringify(message.header)),
    Buffer.from(JSON.stringify(message.parent_header)),
    Buffer.from(JSON.stringify(message.metadata)),
    Buffer.from(JSON.stringify(message.content)),
  ];
  return [
    ...message.identities.map((id) => Buffer.from(id.buffer, id.byteOffset, id.byteLength)),
    DELIMITER,
    Buffer.from(signer.sign(parts)),
    ...parts,
    ...(message.buffers ?? []).map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
  ];
}

function parseJson(frame: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(frame.toString("utf8"));
  } catch (err) {
    throw new WireError(`${what} is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new WireError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Parses ZeroMQ frames into a message; throws WireError on a missing delimiter, a bad signature or bad JSON. */
export function decodeMessage(frames: Buffer[], signer: Signer): JupyterMessage {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  if (at < 0) throw new WireError("message has no <IDS|MSG> delimiter");
  if (frames.length < at + 6) throw new WireError(`message has ${frames.length - at - 1} frames after the delimiter, expected at least 5`);
  const signature = frames[at + 1]!.toString("utf8");
  const parts = frames.slice(at + 2, at + 6);
  if (!signer.verify(signature, parts)) throw new WireError("message signature does not match");
  const header = parseJson(parts[0]!, "header");
  if (typeof header.msg_type !== "string" || typeof header.msg_id !== "string") throw new WireError("header lacks msg_type or msg_id");
  return {
    identities: frames.slice(0, at),
    header: header as unknown as MessageHeader,
    parent_header: parseJson(parts[1]!, "parent_header") as JupyterMessage["parent_header"],
    metadata: parseJson(parts[2]!, "metadata"),
    content: parseJson(parts[3]!, "content"),
    buffers: frames.slice(at + 6),
  };
}

/** The msg_id of the request a message answers, if any. */
export function parentId(message: Pick<JupyterMessage<unknown>, "parent_header">): string | undefined {
  const id = (message.parent_header as Partial<MessageHeader>).msg_id;
  return typeof id === "string" ? id : undefined;
}
