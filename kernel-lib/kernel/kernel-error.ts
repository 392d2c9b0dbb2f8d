/** A kernel that cannot be started, has died, or does not answer: the client-side failures of a kernel session. */
export class KernelError extends Error {
  override name = "KernelError";
}

/** A request whose reply (or idle status) did not come within its timeout; the kernel may still be alive. */
export class KernelTimeoutError extends KernelError {
  override name = "KernelTimeoutError";
}
