/**
 * `vfio-workbench serve`: builds the site, serves it on 127.0.0.1, and rebuilds when a notebook,
 * the known differences or the package changes. Each rebuild is the `build` command run afresh in
 * a child process, so it uses the package's code as it is now; its cache executes only the
 * notebooks whose key changed. Open pages reload after a good rebuild and show the problems of a
 * failed one over the last good build.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { packageInfo } from "../../kernel-lib/kernel/package-root.js";
import { Rebuilder, runStep, type Command, type StepOutcome } from "./rebuilder.js";
import { StaticServer } from "./static-server.js";
import { ChangeWatcher, watchTargets } from "./watcher.js";

export interface ServeOptions {
  /** the project (its notebooks/); default the working directory */
  root?: string;
  /** the site folder (default ROOT/site) */
  out?: string;
  /** 0 takes any free port */
  port: number;
  /** the command that builds the site into `out`, run with the project as its working directory */
  buildCommand: Command;
  /** progress, one line at a time */
  log: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  rebuilder: Rebuilder;
  close(): Promise<void>;
}

/** The build's own one-line problems ("vfio-workbench: …"), without the prefix. */
function buildProblems(lines: string[]): string[] {
  return lines.filter((l) => l.startsWith("vfio-workbench: ")).map((l) => l.slice("vfio-workbench: ".length));
}

/** The compiler's diagnostics ("file(line,col): error TS…"). */
function compileProblems(lines: string[]): string[] {
  return lines.filter((l) => /error TS\d+/.test(l));
}

/** The package's compile step, where it is a checkout with its sources. */
function compileCommand(packageRoot: string): Command | undefined {
  const tsconfig = join(packageRoot, "tsconfig.build.json");
  if (!existsSync(tsconfig) || !existsSync(join(packageRoot, "kernel-lib", "index.ts"))) return undefined;
  let tsc: string;
  try {
    tsc = join(dirname(createRequire(join(packageRoot, "package.json")).resolve("typescript/package.json")), "bin", "tsc");
  } catch {
    return undefined;
  }
  return [process.execPath, tsc, "-p", tsconfig];
}

export async function serveSite(options: ServeOptions): Promise<RunningServer> {
  const root = resolve(options.root ?? process.cwd());
  const out = resolve(options.out ?? join(root, "site"));
  const packageRoot = packageInfo().root;
  let lastProblems: string[] = [];

  const server = new StaticServer({
    siteDir: out,
    liveReloadScript: join(packageRoot, "docs-site", "assets", "live-reload.js"),
    notBuiltYet: () => lastProblems,
  });
  let port: number;
  try {
    port = await server.listen(options.port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === "EADDRINUSE" ? `port ${options.port} on 127.0.0.1 is in use; pick another with --port` : `cannot listen on 127.0.0.1:${options.port}: ${(err as Error).message}`);
  }
  const url = `http://127.0.0.1:${port}/`;

  const compile = compileCommand(packageRoot);
  const stopping = new AbortController();
  const rebuilder = new Rebuilder({
    compile: compile && (() => runStep(compile, packageRoot, compileProblems, options.log, stopping.signal)),
    build: () => runStep(options.buildCommand, root, buildProblems, options.log, stopping.signal),
    onStart: ({ compile: compiling, files }) => {
      server.broadcast("building");
      if (files.length > 0) options.log(`changed: ${files.map((f) => f.replace(root + "/", "")).join(", ")}${compiling ? " (recompiling the package first)" : ""}`);
    },
    onDone: (outcome: StepOutcome & { seconds: number }) => {
      if (stopping.signal.aborted) return;
      lastProblems = outcome.problems;
      if (outcome.ok) {
        options.log(`rebuilt in ${outcome.seconds.toFixed(1)} s; ${server.openPages} open page(s) reloading`);
        server.broadcast("reload");
      } else {
        for (const problem of outcome.problems) options.log(`vfio-workbench: ${problem}`);
        options.log(`the rebuild failed after ${outcome.seconds.toFixed(1)} s; serving the last good build`);
        server.broadcast("failed", { problems: outcome.problems });
      }
    },
  });
  const watcher = new ChangeWatcher(watchTargets(root, packageRoot), (kinds, files) => void rebuilder.request(kinds, files));
  options.log(`serving ${out} at ${url} (Ctrl-C stops)`);
  void rebuilder.request(new Set(["rebuild"]));

  return {
    url,
    port,
    rebuilder,
    async close() {
      watcher.close();
      stopping.abort();
      await server.close();
      await rebuilder.idle();
    },
  };
}
