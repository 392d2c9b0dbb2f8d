import type { Command } from "commander";
import { installKernelspec, uninstallKernelspec, type KernelspecLocation } from "../../kernel-lib/kernel/kernelspec.js";
import { UsageError } from "../errors.js";

interface LocationFlags {
  user?: boolean;
  sysPrefix?: boolean;
  prefix?: string;
  python?: string;
}

function location(flags: LocationFlags): KernelspecLocation {
  const chosen = [flags.user, flags.sysPrefix, flags.prefix !== undefined].filter(Boolean).length;
  if (chosen > 1) throw new UsageError("choose one of --user, --sys-prefix and --prefix");
  if (flags.prefix !== undefined) return { kind: "prefix", prefix: flags.prefix };
  if (flags.sysPrefix) return { kind: "sys-prefix", python: flags.python };
  return { kind: "user" };
}

function withLocationOptions(command: Command): Command {
  return command
    .option("--user", "the per-user Jupyter data folder, e.g. ~/.local/share/jupyter/kernels (the default)")
    .option("--sys-prefix", "sys.prefix of the Python environment Jupyter runs in (see --python)")
    .option("--prefix <dir>", "DIR/share/jupyter/kernels (point JUPYTER_PATH at DIR/share/jupyter)")
    .option("--python <path>", "the Python to ask for sys.prefix with --sys-prefix (default: the one that runs `jupyter` on PATH)");
}

/** Turns a library error about the user's input (missing spec, unusable Python) into a one-line CLI error. */
function asUsageError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof Error && !(err instanceof UsageError)) throw new UsageError(err.message, 1);
    throw err;
  }
}

export function registerKernel(program: Command): void {
  const kernel = program.command("kernel").description("the Jupyter kernel: install or remove its kernelspec, or start it");

  withLocationOptions(kernel.command("install").description("Write the vfio-workbench kernelspec (kernel.json) so Jupyter can start this kernel")).action(
    (flags: LocationFlags) => {
      const dir = asUsageError(() => installKernelspec(location(flags)));
      process.stdout.write(`installed kernelspec vfio-workbench in ${dir}\n`);
    },
  );

  withLocationOptions(kernel.command("uninstall").description("Remove the vfio-workbench kernelspec")).action((flags: LocationFlags) => {
    const dir = asUsageError(() => uninstallKernelspec(location(flags)));
    process.stdout.write(`removed kernelspec vfio-workbench from ${dir}\n`);
  });

  kernel
    .command("start")
    .description("Run the kernel for a Jupyter connection file (what the kernelspec's argv does)")
    .requiredOption("-f, --connection-file <file>", "the connection file Jupyter wrote (ports, key, transport)")
    .action(async (flags: { connectionFile: string }) => {
      // Loaded here: the kernel brings in tslab and its TypeScript, which no other command needs.
      const { startKernel } = await import("../../kernel-lib/kernel/kernel.js");
      await asUsageError(() => startKernel(flags.connectionFile)).catch((err: unknown) => {
        throw err instanceof Error && !(err instanceof UsageError) ? new UsageError(err.message, 1) : err;
      });
      // The kernel ends the process itself on shutdown_request; until then, keep the CLI from exiting.
      await new Promise<never>(() => undefined);
    });
}
