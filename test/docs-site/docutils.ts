import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface DocutilsResult {
  status: number | null;
  /** docutils' system messages: empty when the document is clean */
  stderr: string;
  /** the document as the writer wrote it */
  stdout: string;
}

/**
 * Runs Debian's docutils (python3-docutils) on a reST file, halting at the first warning:
 * a clean document exits 0 with nothing on stderr.
 */
export function docutilsFile(file: string, writer: "html" | "xml" = "html"): DocutilsResult {
  const r = spawnSync("python3", ["-m", "docutils", `--writer=${writer}`, "--halt=warning", "--report=warning", file], { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** Runs docutils on reST text, written to a scratch file. */
export function docutils(text: string, writer: "html" | "xml" = "xml"): DocutilsResult {
  const dir = mkdtempSync(join(tmpdir(), "vfio-workbench-rst-"));
  try {
    const file = join(dir, "doc.rst");
    writeFileSync(file, text);
    return docutilsFile(file, writer);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
