/**
 * digest.ts for the browser build (esbuild puts this module in its place): the same SHA-256 and
 * CRC-32 values, from @noble/hashes and crc-32 instead of node:crypto and node:zlib.
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import CRC32 from "crc-32";
import type { Sha256 } from "./digest.js";

const bytes = (data: Uint8Array | string) => (typeof data === "string" ? utf8ToBytes(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength));

export function sha256(): Sha256 {
  const hash = nobleSha256.create();
  const hasher: Sha256 = {
    update(data) {
      hash.update(bytes(data));
      return hasher;
    },
    hex: () => bytesToHex(hash.digest()),
  };
  return hasher;
}

export function sha256Hex(data: Uint8Array | string): string {
  return sha256().update(data).hex();
}

export function crc32(data: Uint8Array): number {
  return CRC32.buf(data) >>> 0;
}
