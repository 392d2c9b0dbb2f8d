import { Command, CommanderError } from "commander";
import { UsageError } from "./errors.js";
import { commands } from "./commands/index.js";
import { packageVersion } from "./package-info.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("vfio-workbench")
    .description("Notebook workbench for the Linux VFIO live-migration uAPI")
    .version(packageVersion())
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

/** Anything thrown with an errno name (the library's Errno and its wrappers) is a user-facing failure. */
function isUserFacing(err: unknown): err is Error {
  if (err instanceof UsageError) return true;
  return err instanceof Error && typeof (err as { errno?: unknown }).errno === "number";
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed help, version or its own one-line message
      return err.exitCode;
    }
    if (isUserFacing(err)) {
      process.stderr.write(`vfio-workbench: ${err.message}\n`);
      return err instanceof UsageError ? err.exitCode : 1;
    }
    throw err;
  }
}

