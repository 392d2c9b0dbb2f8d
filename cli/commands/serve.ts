import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { positiveFlag } from "../flags.js";

interface ServeFlags {
  port: string;
  out?: string;
  jobs?: string;
}

export const DEFAULT_SERVE_PORT = 8000;

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description(
      "build the docs site and serve it on 127.0.0.1; rebuild when a notebook or the package changes (executing only the notebooks whose cache key changed, recompiling first when a TypeScript source of the package changed) and reload the open pages",
    )
    .option("-p, --port <port>", "the port on 127.0.0.1 (0: any free one)", String(DEFAULT_SERVE_PORT))
    .option("-o, --out <dir>", "where to write the site (default: site/)")
    .option("-j, --jobs <n>", "notebooks executed at once (default: the number of cores)")
    .action(async (flags: ServeFlags) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port takes a port number from 0 to 65535, got ${JSON.stringify(flags.port)}`);
      const jobs = positiveFlag(flags.jobs, "--jobs", "integer");
      const { serveSite } = await import("../../docs-site/serve/serve.js");
      const main = fileURLToPath(new URL("../main.js", import.meta.url));
      const buildCommand = [process.execPath, main, "build", ...(flags.out ? ["--out", flags.out] : []), ...(jobs ? ["--jobs", String(jobs)] : [])];
      let server;
      try {
        server = await serveSite({ port, out: flags.out, buildCommand, log: (line) => process.stderr.write(`${line}\n`) });
      } catch (err) {
        throw new UsageError((err as Error).message, 1);
      }
      process.stdout.write(`${server.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void server.close().then(resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
