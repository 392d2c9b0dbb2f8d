/**
 * claim() shows a checked sentence with its source, and fails loudly, naming the sentence, when
 * its check does not return true; the expect helpers say what happened instead.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { claim, ClaimError, CLAIM_MIME, errnoOf, expectEqual, expectErrno } from "../../kernel-lib/display/index.js";
import { setDisplaySink, type MimeData } from "../../kernel-lib/display/display-channel.js";
import { Errno } from "../../hw-emu/uapi/index.js";
import { VfioError } from "../../kernel-lib/vfio/errors.js";

let shown: Array<{ data: MimeData; metadata: Record<string, unknown> }>;

beforeEach(() => {
  shown = [];
  setDisplaySink({ display: (data, metadata) => shown.push({ data, metadata }) });
});
afterEach(() => setDisplaySink(null));

const einval = () => {
  throw new Errno("EINVAL", "", "ioctl");
};

describe("claim", () => {
  it("shows a checked sentence with its source in every mime type", () => {
    claim("STOP_COPY -> PRE_COPY is refused", () => true, { source: "drivers/vfio/vfio_main.c, vfio_mig_get_next_state()" });
    expect(shown).toHaveLength(1);
    const { data, metadata } = shown[0]!;
    expect(data[CLAIM_MIME]).toEqual({ claim: "STOP_COPY -> PRE_COPY is refused", source: "drivers/vfio/vfio_main.c, vfio_mig_get_next_state()", model: false, status: "checked" });
    expect(data["text/plain"]).toBe("✔ STOP_COPY -> PRE_COPY is refused [drivers/vfio/vfio_main.c, vfio_mig_get_next_state()]");
    expect(data["text/html"]).toContain('<cite class="vw-claim-source">drivers/vfio/vfio_main.c, vfio_mig_get_next_state()</cite>');
    expect(data["text/html"]).toContain("STOP_COPY -&gt; PRE_COPY is refused");
    expect(data["text/markdown"]).toContain("**Checked:**");
    expect(metadata).toEqual({ "vfio-workbench": { claim: true, model: false } });
  });

  it("labels a claim about the model as the model's", () => {
    claim("a doorbell takes 50 µs to arrive", () => true, { model: true });
    claim("an arc costs 200 µs", () => true, { model: true, source: "kernel-lib/vmm/costs.ts" });
    expect(shown.map((s) => s.data["text/plain"])).toEqual([
      "✔ a doorbell takes 50 µs to arrive [the emulator's model]",
      "✔ an arc costs 200 µs [model: kernel-lib/vmm/costs.ts]",
    ]);
    expect(shown[0]!.data["text/html"]).toContain('data-model="true"');
  });

  it("throws a ClaimError naming the sentence and the source when the check returns false", () => {
    expect(() => claim("two and two make five", () => false, { source: "arithmetic" })).toThrowError(
      new ClaimError("two and two make five", "arithmetic", "the check returned false"),
    );
    expect(shown).toHaveLength(0);
  });

  it("wants exactly true: a check that forgot to return fails", () => {
    expect(() => claim("forgot", (() => undefined) as unknown as () => boolean, { source: "s" })).toThrow(/claim failed: forgot \(s\): the check returned undefined, not true/);
    expect(() => claim("truthy", (() => 1) as unknown as () => boolean, { source: "s" })).toThrow(/returned 1, not true/);
  });

  it("turns an error inside the check into a ClaimError that says what was thrown", () => {
    let caught: unknown;
    try {
      claim("the device stays in STOP_COPY", () => expectEqual("ERROR", "STOP_COPY"), { source: "s" });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ClaimError);
    expect((caught as Error).message).toBe('claim failed: the device stays in STOP_COPY (s): Error: expected "STOP_COPY", got "ERROR"');
    expect((caught as Error).name).toBe("ClaimError");
  });

  it("awaits an async check", async () => {
    await claim("async holds", async () => true, { source: "s" });
    expect(shown).toHaveLength(1);
    await expect(claim("async fails", async () => false, { source: "s" })).rejects.toThrow(/claim failed: async fails \(s\): the check returned false/);
    await expect(
      claim("async throws", async () => {
        throw new Error("boom");
      }, { source: "s" }),
    ).rejects.toThrow(/async throws \(s\): Error: boom/);
  });

  it("refuses a claim that names neither a source nor the model", () => {
    expect(() => claim("unsourced", () => true, {} as never)).toThrow(TypeError);
    expect(() => claim("unsourced", () => true, undefined as never)).toThrow(/say where the fact lives/);
    expect(() => claim("", () => true, { source: "s" })).toThrow(/needs the sentence/);
    expect(() => claim("x", true as never, { source: "s" })).toThrow(/must be a function/);
    expect(shown).toHaveLength(0);
  });
});

describe("expectErrno and errnoOf", () => {
  it("is true for the errno named, on the uAPI's Errno and on the library's VfioError", () => {
    expect(expectErrno(einval, "EINVAL")).toBe(true);
    expect(expectErrno(() => { throw new VfioError("VFIO_SET_IOMMU", "EBUSY", 16, "m", ""); }, "EBUSY")).toBe(true);
  });

  it("says what happened when it is not", () => {
    expect(() => expectErrno(() => 0, "EINVAL")).toThrow("expected EINVAL, but the call succeeded");
    expect(() => expectErrno(einval, "EBUSY")).toThrow(/expected EBUSY, but it failed with EINVAL/);
    expect(() => expectErrno(() => { throw new RangeError("bad"); }, "EINVAL")).toThrow(/expected EINVAL, but it failed with RangeError: bad/);
    expect(() => expectErrno(einval, "einval")).toThrow(TypeError);
  });

  it("awaits an async call", async () => {
    await expect(expectErrno(async () => einval(), "EINVAL")).resolves.toBe(true);
    await expect(expectErrno(async () => 1, "EINVAL")).rejects.toThrow(/the call succeeded/);
  });

  it("errnoOf names the answer, and throws on errors that are not errnos", () => {
    expect(errnoOf(() => 1)).toBe("ok");
    expect(errnoOf(einval)).toBe("EINVAL");
    expect(() => errnoOf(() => { throw new Error("not an errno"); })).toThrow("not an errno");
  });
});

describe("expectEqual", () => {
  it("compares structure, bigints and bytes included", () => {
    expect(expectEqual({ a: [1n, new Uint8Array([1, 2])] }, { a: [1n, new Uint8Array([1, 2])] })).toBe(true);
    expect(() => expectEqual([1n], [1])).toThrow('expected [1], got ["1n"]');
    expect(() => expectEqual(new Uint8Array([1]), new Uint8Array([2]))).toThrow(/expected \{"bytes":\[2\]\}, got \{"bytes":\[1\]\}/);
  });
});
