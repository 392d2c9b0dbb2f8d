/** Parsing of the numeric flags the commands share, with the one-line errors the CLI prints. */
import { UsageError } from "./errors.js";

/** A flag's value as a positive number (or integer), or undefined when the flag was not given. */
export function positiveFlag(text: string | undefined, flag: string, kind: "integer" | "number" | "seconds"): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (kind === "integer" && !Number.isInteger(n))) {
    throw new UsageError(`${flag} takes a positive ${kind === "seconds" ? "number of seconds" : kind}, got ${JSON.stringify(text)}`);
  }
  return n;
}
