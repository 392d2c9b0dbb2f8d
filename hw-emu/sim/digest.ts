/**
 * The two digests the emulator and the library use: SHA-256 (content identities: guest RAM,
 * device snapshots, figure ids) and CRC-32 (IEEE 802.3, as zlib computes it: packet flows, the
 * accelerator's checksums). In Node they come from node:crypto and node:zlib; the browser build
 * swaps this module for digest.browser.ts, which computes the same values in JavaScript.
 */
import { createHash } from "node:crypto";
import { crc32 as zlibCrc32 } from "node:zlib";

export interface Sha256 {
  update(data: Uint8Array | string): Sha256;
  /** the digest as lower-case hex; the hasher is spent after it */
  hex(): string;
}

/** An incremental SHA-256. */
export function sha256(): Sha256 {
  const hash = createHash("sha256");
  const hasher: Sha256 = {
    update(data) {
      hash.update(data);
      return hasher;
    },
    hex: () => hash.digest("hex"),
  };
  return hasher;
}

/** SHA-256 of `data` as lower-case hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return sha256().update(data).hex();
}

/** CRC-32 (IEEE), unsigned. */
export function crc32(data: Uint8Array): number {
  return zlibCrc32(data);
}
