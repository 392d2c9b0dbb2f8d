/** The browser twin of hw-emu/sim/digest.ts computes the same SHA-256 and CRC-32 as node:crypto and node:zlib. */
import { describe, expect, it } from "vitest";
import * as browser from "../../hw-emu/sim/digest.browser.js";
import * as node from "../../hw-emu/sim/digest.js";
import { Random } from "../../hw-emu/sim/random.js";

const inputs = (): Uint8Array[] => {
  const random = new Random(11);
  const sizes = [0, 1, 3, 55, 56, 63, 64, 65, 4096, 100_000];
  return sizes.map((n) => Uint8Array.from({ length: n }, () => random.int(0, 255)));
};

describe("digest.browser.ts", () => {
  it("gives node's SHA-256 for bytes, for strings and incrementally", () => {
    for (const data of inputs()) expect(browser.sha256Hex(data)).toBe(node.sha256Hex(data));
    expect(browser.sha256Hex("STOP_COPY → PRE_COPY")).toBe(node.sha256Hex("STOP_COPY → PRE_COPY"));
    const words = new Uint32Array([7, 0xdeadbeef, 42]);
    const view = new Uint8Array(words.buffer, 4, 8); // a view that does not start at its buffer's start
    expect(browser.sha256().update(view).update("x").hex()).toBe(node.sha256().update(view).update("x").hex());
  });

  it("gives zlib's CRC-32, unsigned", () => {
    for (const data of inputs()) expect(browser.crc32(data)).toBe(node.crc32(data));
    expect(browser.crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });
});
