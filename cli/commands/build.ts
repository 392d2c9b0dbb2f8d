import { relative } from "node:path";
import type { Command } from "commander";
import { defaultJobs } from "../../kernel-lib/kernel/notebook-check.js";
import { UsageError } from "../errors.js";
import { positiveFlag } from "../flags.js";

interface BuildFlags {
  out?: string;
  jobs?: string;
}

const shown = (path: string) => relative(process.cwd(), path) || path;

export function registerBuild(program: Command): void {
  program
    .command("build")
    .description(
      "build the docs site from the notebooks: execute them (each in its own kernel, N at a time; an unchanged one is taken from the cache in .vfio-workbench-cache/), render every page, check every internal link, and write the site",
    )
    .option("-o, --out <dir>", "where to write the site (default: site/; what was there is replaced)")
    .option("-j, --jobs <n>", `notebooks executed at once (default: the number of cores, ${defaultJobs()} here)`)
    .action(async (flags: BuildFlags) => {
      const jobs = positiveFlag(flags.jobs, "--jobs", "integer");
      // loaded here, not at start-up: the site's modules are large and only this command needs them
      const [{ buildSite, SiteBuildError }, { cliReferencePage }, { cachedApiReferencePage }, { KernelError }, { NotebookFormatError }] = await Promise.all([
        import("../../docs-site/index.js"),
        import("../../docs-site/cli-reference.js"),
        import("../../docs-site/api-reference-cache.js"),
        import("../../kernel-lib/kernel/kernel-error.js"),
        import("../../kernel-lib/kernel/notebook.js"),
      ]);
      try {
        const result = await buildSite({
          out: flags.out,
          jobs,
          // the reference pages, generated from this program and from the package's own exports
          extraPages: [cliReferencePage(program), await cachedApiReferencePage(process.cwd())],
          onProgress: ({ notebook, status, seconds }) => process.stderr.write(`${shown(notebook)}  ${status}${status === "executed" ? `  ${seconds.toFixed(1)} s` : ""}\n`),
        });
        process.stderr.write(
          `${result.pages.length} pages from ${result.executed.length + result.cached.length} notebooks (${result.executed.length} executed, ${result.cached.length} cached), ${result.seconds.toFixed(1)} s\n`,
        );
        process.stdout.write(`${shown(result.out)}/index.html\n`);
      } catch (err) {
        if (err instanceof SiteBuildError) {
          for (const problem of err.problems) process.stderr.write(`vfio-workbench: ${problem}\n`);
          process.exitCode = 1;
          return;
        }
        if (err instanceof NotebookFormatError || err instanceof KernelError) throw new UsageError(err.message, 1);
        throw err;
      }
    });
}
