#!/usr/bin/env node
import { startKernel } from "./kernel.js";

/**
 * What a kernelspec's argv runs: `node launcher.js -f CONNECTION_FILE`. Kept apart from the
 * CLI so that starting a kernel loads nothing but the kernel.
 */

function connectionFileFrom(argv: string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if ((arg === "-f" || arg === "--connection-file") && argv[i + 1]) return argv[i + 1]!;
    if (arg.startsWith("--connection-file=")) return arg.slice("--connection-file=".length);
  }
  throw new Error("usage: launcher.js -f CONNECTION_FILE");
}

try {
  await startKernel(connectionFileFrom(process.argv.slice(2)));
} catch (err) {
  process.stderr.write(`vfio-workbench kernel: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
