/**
 * Errors the CLI reports as one line with a non-zero exit, never as a stack trace:
 * the user asked for something that cannot be done as asked.
 */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}
