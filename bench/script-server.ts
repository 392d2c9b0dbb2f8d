/**
 * A page server for driving the browser build in chromium: the scripts of one folder, and any
 * named extra files (the TypeScript compiler, say), as JavaScript on 127.0.0.1, and every other
 * path as an empty page to load them into. The live-cell benchmark and the browser tests use it;
 * the site itself is served by docs-site/serve/static-server.ts.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { join, normalize, sep } from "node:path";

export interface ScriptServerOptions {
  /** the folder whose files are served by their path */
  dir: string;
  /** more files, by the path they are served at ("/typescript.js") */
  extra?: Readonly<Record<string, string>>;
  /** the empty page's title */
  title: string;
}

export interface ScriptServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  close(): Promise<void>;
}

export async function serveScripts(options: ScriptServerOptions): Promise<ScriptServer> {
  const page = `<!doctype html><html lang="en"><title>${options.title}</title><body></body></html>`;
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const file = options.extra?.[path] ?? normalize(join(options.dir, path));
    const served = path !== "/" && (options.extra?.[path] !== undefined || file.startsWith(options.dir + sep)) && existsSync(file) && statSync(file).isFile();
    if (served) res.writeHead(200, { "content-type": "text/javascript" }).end(readFileSync(file));
    else res.writeHead(200, { "content-type": "text/html" }).end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    origin: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
