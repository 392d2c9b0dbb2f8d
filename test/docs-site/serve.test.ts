/**
 * `vfio-workbench serve` on a small project of its own, as a user runs it: the first build, the
 * pages over HTTP with the live-reload script added (and nothing outside the site), a notebook
 * edit that rebuilds only that notebook and reloads an open page in chromium, a failed rebuild
 * shown on the page over the last good build, and the one-line errors of a bad or busy port.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliMain, repoRoot, requireBuild } from "../kernel/helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const shots = join(repoRoot, "test-output", "screenshots");

function writeNotebook(root: string, name: string, markdown: string, code: string): void {
  const notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "vfio-workbench", display_name: "TypeScript (vfio-workbench)", language: "typescript" } },
    cells: [
      { id: `${name}-md`, cell_type: "markdown", metadata: {}, source: markdown },
      { id: `${name}-code`, cell_type: "code", metadata: {}, source: code, outputs: [], execution_count: null },
    ],
  };
  writeFileSync(join(root, "notebooks", `${name}.ipynb`), JSON.stringify(notebook));
}

/** The server's stderr so far, and a way to wait for a line matching a pattern (after a mark). */
class Log {
  text = "";
  private waiters: Array<() => void> = [];
  constructor(stream: Readable) {
    stream.on("data", (chunk: Buffer) => {
      this.text += chunk.toString("utf8");
      for (const w of this.waiters) w();
    });
  }
  mark(): number {
    return this.text.length;
  }
  waitFor(pattern: RegExp, from = 0, timeoutMs = 90_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(this.text.slice(from));
        if (!m) return false;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== onData);
        resolve(m);
        return true;
      };
      const onData = () => void check();
      const timer = setTimeout(() => reject(new Error(`no ${pattern} in the server's output:\n${this.text}`)), timeoutMs);
      if (!check()) this.waiters.push(onData);
    });
  }
}

function get(url: string, rawPath?: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = request({ host: target.hostname, port: target.port, path: rawPath ?? target.pathname, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body }));
    });
    req.on("error", reject);
    req.end();
  });
}

let root: string;
let server: ChildProcessByStdio<null, Readable, Readable>;
let log: Log;
let url: string;
let browser: Browser | undefined;

beforeAll(async () => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), "vwb-serve-"));
  mkdirSync(join(root, "notebooks"));
  writeNotebook(root, "alpha", "# Alpha\n\nThe first version of this page.", "6 * 7");
  writeNotebook(root, "beta", "# Beta\n\nSee [Alpha](alpha.ipynb).", '"beta"');
  server = spawn(process.execPath, [cliMain, "serve", "--port", "0", "--jobs", "2"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  log = new Log(server.stderr);
  url = (await log.waitFor(/serving \S+ at (http:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
  await log.waitFor(/rebuilt in [\d.]+ s/);
  if (haveChromium) browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  }
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A served page in chromium, loaded (and so subscribed to the server's events). */
async function openPage(file: string) {
  const page = await browser!.newPage();
  await page.goto(new URL(file, url).href);
  await page.waitForFunction(() => document.readyState === "complete");
  return page;
}

describe("vfio-workbench serve", () => {
  it("builds the site first, then serves its pages on 127.0.0.1 with the live-reload script added", async () => {
    expect(log.text).toMatch(/notebooks\/alpha\.ipynb {2}executed/);
    const index = await get(url);
    expect(index.status).toBe(200);
    expect(index.type).toBe("text/html; charset=utf-8");
    expect(index.body).toContain('<script src="/__vfio-workbench/live-reload.js"></script></body>');
    const alpha = await get(new URL("alpha.html", url).href);
    expect(alpha.body).toContain("The first version of this page.");
    // the file on disk is the plain build, without the script
    expect(readFileSync(join(root, "site", "alpha.html"), "utf8")).not.toContain("live-reload");
    expect((await get(new URL("assets/site.css", url).href)).type).toBe("text/css; charset=utf-8");
    expect((await get(new URL("__vfio-workbench/live-reload.js", url).href)).body).toContain("EventSource");
  });

  it("answers 404 for what is not in the site, and never serves a file outside it", async () => {
    expect((await get(new URL("nowhere.html", url).href)).status).toBe(404);
    const escape = await get(url, "/%2e%2e/%2e%2e/%2e%2e/etc/passwd");
    expect(escape.status).toBe(404);
    expect(escape.body).not.toContain("root:");
  });

  it.skipIf(!haveChromium)("rebuilds only the notebook that changed, and an open page reloads with the new text", async () => {
    const page = await openPage("alpha.html");
    const mark = log.mark();
    writeNotebook(root, "alpha", "# Alpha\n\nThe second version of this page.", "6 * 7");
    await page.waitForFunction(() => document.body.textContent?.includes("The second version of this page."), undefined, { timeout: 90_000 });
    const rebuild = log.text.slice(mark);
    expect(rebuild).toMatch(/notebooks\/alpha\.ipynb {2}executed/);
    expect(rebuild).toMatch(/notebooks\/beta\.ipynb {2}cached/);
    expect(rebuild).toMatch(/rebuilt in [\d.]+ s; 1 open page\(s\) reloading/);
    await page.close();
  }, 120_000);

  it.skipIf(!haveChromium)("shows why a rebuild failed on the open page, and keeps serving the last good build", async () => {
    const page = await openPage("beta.html");
    const mark = log.mark();
    writeNotebook(root, "beta", "# Beta\n\nSee [a page that is not there](gamma.ipynb).", '"beta"');
    await log.waitFor(/the rebuild failed/, mark);
    const alert = page.locator("#vfio-workbench-build-failed");
    await alert.waitFor({ timeout: 30_000 });
    expect(await alert.textContent()).toContain("broken link: beta.html: gamma.html (no page gamma.html)");
    expect(await alert.getAttribute("role")).toBe("alert");
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, "serve-rebuild-failed.png") });
    expect(log.text.slice(mark)).toContain("vfio-workbench: broken link: beta.html: gamma.html (no page gamma.html)");
    expect((await get(new URL("beta.html", url).href)).body).toContain("See <a href=\"alpha.html\">Alpha</a>");
    writeNotebook(root, "beta", "# Beta\n\nSee [Alpha](alpha.ipynb).", '"beta"');
    await page.waitForFunction(() => !document.getElementById("vfio-workbench-build-failed"), undefined, { timeout: 90_000 });
    await page.close();
  }, 120_000);

  it("refuses a busy port and a bad one with one line and a non-zero exit", () => {
    const port = new URL(url).port;
    const busy = spawnSync(process.execPath, [cliMain, "serve", "--port", port], { cwd: root, encoding: "utf8", timeout: 30_000 });
    expect(busy.status).toBe(1);
    expect(busy.stderr.trim()).toBe(`vfio-workbench: port ${port} on 127.0.0.1 is in use; pick another with --port`);
    const bad = spawnSync(process.execPath, [cliMain, "serve", "--port", "http"], { cwd: root, encoding: "utf8", timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('vfio-workbench: --port takes a port number from 0 to 65535, got "http"');
  });

  it("stops on SIGTERM with exit 0", async () => {
    const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));
    server.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
