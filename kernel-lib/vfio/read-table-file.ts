/** Reads a path table's file for fsmDiff(); the browser build swaps in read-table-file.browser.ts. */
import { readFileSync } from "node:fs";

export function readTableFile(path: string): string {
  return readFileSync(path, "utf8");
}
