#!/usr/bin/env node
/**
 * Runs after `npm run build` (npm's postbuild hook): tsc writes files with mode 0644, but
 * every file package.json names under "bin" is executed directly (by npx through npm's
 * link of the project's own bin, or by a shell), so each gets the executable bits.
 *
 * Usage: node tools/mark-bins-executable.mjs [REPO]   (default: the repository this file is in)
 */
import { chmodSync, existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), ".."));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const bins = typeof pkg.bin === "string" ? [pkg.bin] : Object.values(pkg.bin ?? {});
let missing = 0;
for (const bin of bins) {
  const file = join(root, bin);
  if (!existsSync(file)) {
    process.stderr.write(`mark-bins-executable: ${bin} (named in package.json "bin") was not built\n`);
    missing++;
    continue;
  }
  // add x wherever r is set: 0644 -> 0755
  const mode = statSync(file).mode & 0o777;
  chmodSync(file, mode | ((mode & 0o444) >> 2));
}
process.exit(missing === 0 ? 0 : 1);
