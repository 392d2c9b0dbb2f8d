/**
 * Checks for claim(): each returns true when the expectation holds and throws an Error that says
 * what happened instead, so a failing claim tells the reader what the emulator (or kernel) did.
 */

/** An error carrying an errno name: the uAPI's Errno, or the library's VfioError wrapping one. */
function errnoCode(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, errno } = err as { code?: unknown; errno?: unknown };
  return typeof code === "string" && typeof errno === "number" ? code : undefined;
}

function unexpected(expected: string, err: unknown): Error {
  const code = errnoCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`expected ${expected}, but it failed with ${code ?? (err instanceof Error ? err.name : "a non-error")}: ${message}`, { cause: err });
}

function judge(expected: string, outcome: "returned" | { thrown: unknown }): true {
  if (outcome === "returned") throw new Error(`expected ${expected}, but the call succeeded`);
  if (errnoCode(outcome.thrown) === expected) return true;
  throw unexpected(expected, outcome.thrown);
}

/**
 * True when `fn` fails with the errno named (e.g. "EINVAL"); throws otherwise, saying what `fn`
 * did instead. An async `fn` gives a promise.
 */
export function expectErrno(fn: () => unknown, errno: string): boolean;
export function expectErrno(fn: () => Promise<unknown>, errno: string): Promise<boolean>;
export function expectErrno(fn: () => unknown, errno: string): boolean | Promise<boolean> {
  if (!/^E[A-Z0-9]+$/.test(errno)) throw new TypeError(`expectErrno: ${JSON.stringify(errno)} is not an errno name such as "EINVAL"`);
  let value: unknown;
  try {
    value = fn();
  } catch (thrown) {
    return judge(errno, { thrown });
  }
  if (value instanceof Promise) {
    return value.then(
      () => judge(errno, "returned"),
      (thrown: unknown) => judge(errno, { thrown }),
    );
  }
  return judge(errno, "returned");
}

/**
 * What a call answers, as a word: "ok" when it returns, else the errno name it fails with. Errors
 * without an errno are not answers of the uAPI and are thrown on.
 */
export function errnoOf(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    const code = errnoCode(err);
    if (code === undefined) throw err;
    return code;
  }
}

/** A stable text form for comparing values: bigints, byte arrays, maps and sets included. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "bigint") return `${v}n`;
    if (v instanceof Uint8Array) return { bytes: Array.from(v) };
    if (v instanceof Map) return { map: [...v.entries()] };
    if (v instanceof Set) return { set: [...v.values()] };
    if (v === undefined) return "(undefined)";
    return v;
  });
}

/** True when `actual` equals `expected` structurally; throws showing both otherwise. */
export function expectEqual(actual: unknown, expected: unknown): boolean {
  const a = canonical(actual);
  const e = canonical(expected);
  if (a === e) return true;
  throw new Error(`expected ${e}, got ${a}`);
}
