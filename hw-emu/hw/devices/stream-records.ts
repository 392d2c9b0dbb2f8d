/**
 * Byte-stream plumbing shared by the device models' migration streams:
 * - PullStream: serves read(max) from chunks produced on demand, so a
 *   multi-hundred-MiB state is generated as it is read, never held whole;
 * - records: a 16-byte header {u64 payload size, u32 flags, u32 tag} then the
 *   payload (the framing mlx5 firmware streams use); flag bit 0 marks a
 *   record a receiver may skip if it does not know the tag;
 * - RecordParser: reassembles records from writes of any segmentation.
 */
import { DeviceMigrationError } from "./migration.js";

export const RECORD_HEADER_SIZE = 16;
export const RECORD_FLAG_OPTIONAL = 1;

export class PullStream {
  private cur: Uint8Array | null = null;
  private pos = 0;
  private delivered = 0;

  /** `next` returns the next chunk, or null when nothing more is available now. */
  constructor(private readonly next: () => Uint8Array | null) {}

  /** bytes handed out so far */
  get bytesRead(): number {
    return this.delivered;
  }

  /** bytes of an already produced chunk still waiting to be read */
  get buffered(): number {
    return this.cur ? this.cur.length - this.pos : 0;
  }

  read(max: number): Uint8Array {
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`read size ${max}`);
    const parts: Uint8Array[] = [];
    let total = 0;
    while (total < max) {
      if (!this.cur || this.pos === this.cur.length) {
        this.cur = this.next();
        this.pos = 0;
        if (!this.cur) break;
        if (this.cur.length === 0) continue;
      }
      const n = Math.min(max - total, this.cur.length - this.pos);
      parts.push(this.cur.subarray(this.pos, this.pos + n));
      this.pos += n;
      total += n;
    }
    this.delivered += total;
    if (parts.length === 1) return parts[0]!.slice();
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

export function encodeRecord(tag: number, payload: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_SIZE + payload.length);
  writeRecordHeader(out, 0, tag, payload.length, flags);
  out.set(payload, RECORD_HEADER_SIZE);
  return out;
}

export function writeRecordHeader(out: Uint8Array, offset: number, tag: number, size: number, flags = 0): void {
  const v = new DataView(out.buffer, out.byteOffset + offset, RECORD_HEADER_SIZE);
  v.setBigUint64(0, BigInt(size), true);
  v.setUint32(8, flags >>> 0, true);
  v.setUint32(12, tag >>> 0, true);
}

export interface ParsedRecord {
  tag: number;
  flags: number;
  payload: Uint8Array;
}

/** Reassembles records; `maxPayload(tag)` bounds each record so garbage cannot ask for gigabytes. */
export class RecordParser {
  private readonly head = new Uint8Array(RECORD_HEADER_SIZE);
  private headFill = 0;
  private payload: Uint8Array | null = null;
  private payloadFill = 0;
  private tag = 0;
  private flags = 0;

  constructor(
    private readonly maxPayload: (tag: number, flags: number) => number,
    private readonly onRecord: (r: ParsedRecord) => void,
  ) {}

  /** true when no record is partly received */
  get atBoundary(): boolean {
    return this.headFill === 0 && this.payload === null;
  }

  push(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.payload === null) {
        const n = Math.min(RECORD_HEADER_SIZE - this.headFill, bytes.length - at);
        this.head.set(bytes.subarray(at, at + n), this.headFill);
        this.headFill += n;
        at += n;
        if (this.headFill < RECORD_HEADER_SIZE) break;
        const v = new DataView(this.head.buffer);
        const size = v.getBigUint64(0, true);
        this.flags = v.getUint32(8, true);
        this.tag = v.getUint32(12, true);
        const limit = this.maxPayload(this.tag, this.flags);
        if (size > BigInt(limit)) {
          throw new DeviceMigrationError("corrupt", `record tag ${this.tag} claims ${size} bytes (limit ${limit})`);
        }
        this.payload = new Uint8Array(Number(size));
        this.payloadFill = 0;
      }
      const n = Math.min(this.payload.length - this.payloadFill, bytes.length - at);
      this.payload.set(bytes.subarray(at, at + n), this.payloadFill);
      this.payloadFill += n;
      at += n;
      if (this.payloadFill === this.payload.length) {
        const rec = { tag: this.tag, flags: this.flags, payload: this.payload };
        this.payload = null;
        this.headFill = 0;
        this.onRecord(rec);
      }
    }
  }
}
