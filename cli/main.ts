#!/usr/bin/env node
import { main } from "./program.js";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Only a defect in vfio-workbench itself gets here; user errors are reported by main().
    process.stderr.write(`vfio-workbench: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(70);
  },
);
