/** A kernel that cannot be started, has died, or does not answer: the client-side failures of a kernel session. */
export class KernelError extends Error {
  override name = "KernelError";
}
