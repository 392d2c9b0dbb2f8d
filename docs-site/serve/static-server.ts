/**
 * The HTTP side of `vfio-workbench serve`: the built site's files from one folder on 127.0.0.1,
 * each HTML page with the live-reload script added on the way out (the files on disk stay as
 * `build` wrote them), and a Server-Sent Events stream that tells open pages to reload.
 */
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";

export const LIVE_RELOAD_PREFIX = "/__vfio-workbench/";
const EVENTS_PATH = `${LIVE_RELOAD_PREFIX}events`;
const SCRIPT_PATH = `${LIVE_RELOAD_PREFIX}live-reload.js`;
const SCRIPT_TAG = `<script src="${SCRIPT_PATH}"></script>`;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ipynb": "application/x-ipynb+json",
  ".md": "text/markdown; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

export interface StaticServerOptions {
  /** the site folder */
  siteDir: string;
  /** the live-reload script's file */
  liveReloadScript: string;
  /** what a page says while no build has succeeded yet */
  notBuiltYet: () => string[];
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

export function withLiveReload(html: string): string {
  const at = html.lastIndexOf("</body>");
  return at < 0 ? html + SCRIPT_TAG : html.slice(0, at) + SCRIPT_TAG + html.slice(at);
}

export class StaticServer {
  private readonly server: Server;
  private readonly clients = new Set<ServerResponse>();
  private readonly root: string;

  constructor(private readonly options: StaticServerOptions) {
    this.root = resolve(options.siteDir);
    this.server = createServer((req, res) => this.handle(req, res));
  }

  /** Listens on 127.0.0.1; port 0 takes any free one. Resolves with the port. */
  listen(port: number): Promise<number> {
    return new Promise((resolvePort, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        this.server.off("error", reject);
        const address = this.server.address();
        resolvePort(typeof address === "object" && address ? address.port : port);
      });
    });
  }

  /** Sends an event to every open page. */
  broadcast(event: "reload" | "failed" | "building", data: unknown = {}): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const client of this.clients) client.write(frame);
  }

  get openPages(): number {
    return this.clients.size;
  }

  close(): Promise<void> {
    for (const client of this.clients) client.end();
    this.clients.clear();
    return new Promise((done) => {
      this.server.close(() => done());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname);
    } catch {
      res.writeHead(400).end("bad request path\n");
      return;
    }
    if (path === EVENTS_PATH) return this.subscribe(req, res);
    if (path === SCRIPT_PATH) {
      res.writeHead(200, { "content-type": CONTENT_TYPES[".js"]!, "cache-control": "no-store" }).end(readFileSync(this.options.liveReloadScript));
      return;
    }
    const file = this.fileFor(path);
    if (file === null) {
      if (!existsSync(join(this.root, "index.html"))) return this.notBuilt(res);
      res.writeHead(404, { "content-type": CONTENT_TYPES[".txt"]! }).end(`${path}: not in the site\n`);
      return;
    }
    const type = CONTENT_TYPES[extname(file)] ?? "application/octet-stream";
    const headers = { "content-type": type, "cache-control": "no-store" };
    if (extname(file) === ".html") {
      res.writeHead(200, headers).end(req.method === "HEAD" ? undefined : withLiveReload(readFileSync(file, "utf8")));
      return;
    }
    res.writeHead(200, headers);
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  }

  /** The file a request path names inside the site (a folder's index.html), or null; never outside the site. */
  private fileFor(path: string): string | null {
    const full = normalize(join(this.root, path));
    if (full !== this.root && !full.startsWith(this.root + sep)) return null;
    const candidate = existsSync(full) && statSync(full).isDirectory() ? join(full, "index.html") : full;
    return existsSync(candidate) && statSync(candidate).isFile() ? candidate : null;
  }

  private subscribe(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
    res.write(": connected\n\n");
    this.clients.add(res);
    req.on("close", () => this.clients.delete(res));
  }

  private notBuilt(res: ServerResponse): void {
    const problems = this.options.notBuiltYet();
    const body =
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vfio-workbench: not built yet</title></head><body>` +
      `<main><h1>The site is not built yet</h1>` +
      (problems.length > 0 ? `<p>The last build failed:</p><pre>${escapeHtml(problems.join("\n"))}</pre>` : `<p>The first build is running; this page reloads when it is done.</p>`) +
      `</main></body></html>`;
    res.writeHead(503, { "content-type": CONTENT_TYPES[".html"]!, "cache-control": "no-store" }).end(withLiveReload(body));
  }
}
