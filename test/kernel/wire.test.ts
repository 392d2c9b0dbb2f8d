import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { codePointsToUtf16, utf16ToCodePoints } from "../../kernel-lib/kernel/code-points.js";
import { decodeMessage, encodeMessage, newHeader, Signer, WireError } from "../../kernel-lib/kernel/wire.js";

const header = newHeader("execute_request", "session-1", "tester");

function message(content: Record<string, unknown>) {
  return { identities: [Buffer.from("peer")], header, parent_header: {}, metadata: {}, content };
}

describe("wire format", () => {
  const signer = new Signer("secret-key");

  it("round-trips a signed message with identities and buffers", () => {
    const frames = encodeMessage({ ...message({ code: "1+1" }), buffers: [Buffer.from([1, 2, 3])] }, signer);
    expect(frames[1]!.toString()).toBe("<IDS|MSG>");
    const decoded = decodeMessage(frames, signer);
    expect(decoded.identities.map((b) => Buffer.from(b).toString())).toEqual(["peer"]);
    expect(decoded.header).toEqual(header);
    expect(decoded.content).toEqual({ code: "1+1" });
    expect(decoded.buffers.map((b) => [...b])).toEqual([[1, 2, 3]]);
  });

  it("signs with HMAC-SHA256 over header, parent, metadata and content", async () => {
    const { createHmac } = await import("node:crypto");
    const frames = encodeMessage(message({ a: 1 }), signer);
    const expected = createHmac("sha256", "secret-key");
    for (const part of frames.slice(3, 7)) expected.update(part);
    expect(frames[2]!.toString()).toBe(expected.digest("hex"));
  });

  it("rejects a message signed with another key, or tampered with", () => {
    const forged = encodeMessage(message({ code: "1" }), new Signer("wrong-key"));
    expect(() => decodeMessage(forged, signer)).toThrow(WireError);
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 6 }), fc.nat(), (part, at) => {
        const frames = encodeMessage(message({ code: "x = 1" }), signer);
        const bytes = Buffer.from(frames[part]!);
        bytes[at % bytes.length] ^= 0x01;
        frames[part] = bytes;
        expect(() => decodeMessage(frames, signer)).toThrow(WireError);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it("rejects frames without the delimiter or with too few parts", () => {
    expect(() => decodeMessage([Buffer.from("a"), Buffer.from("b")], signer)).toThrow(/delimiter/);
    expect(() => decodeMessage([Buffer.from("<IDS|MSG>"), Buffer.from("")], signer)).toThrow(/frames/);
  });

  it("round-trips arbitrary JSON content", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (content) => {
        const decoded = decodeMessage(encodeMessage(message(content), signer), signer);
        expect(decoded.content).toEqual(JSON.parse(JSON.stringify(content)));
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it("does not sign with an empty key, and refuses unknown schemes", () => {
    const unsigned = new Signer("");
    const frames = encodeMessage(message({}), unsigned);
    expect(frames[2]!.toString()).toBe("");
    expect(decodeMessage(frames, unsigned).content).toEqual({});
    expect(() => new Signer("k", "rsa-sha256")).toThrow(/signature_scheme/);
  });
});

describe("cursor positions", () => {
  it("converts between code points and UTF-16 units", () => {
    const text = "a😀b";
    expect(codePointsToUtf16(text, 2)).toBe(3);
    expect(utf16ToCodePoints(text, 3)).toBe(2);
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.nat(), (s, n) => {
        const points = Math.min(n, [...s].length);
        expect(utf16ToCodePoints(s, codePointsToUtf16(s, points))).toBe(points);
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
