/**
 * One rebuild at a time: each change asks for a job (recompile first or not); changes that arrive
 * while a job runs are merged into one more job after it, so the site never builds twice at once
 * and the last change is always built.
 */
import { spawn } from "node:child_process";
import type { ChangeKind } from "./watcher.js";

export interface StepOutcome {
  ok: boolean;
  /** why it failed, one line each */
  problems: string[];
}

/** A command a step runs, as argv (the first entry the program). */
export type Command = readonly string[];

/**
 * Runs a command in `cwd` and collects its output lines. `problemsFrom` picks out of them the lines
 * that say why it failed; every stderr line is also passed to `onLine` as it comes.
 */
export function runStep(
  command: Command,
  cwd: string,
  problemsFrom: (lines: string[]) => string[],
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<StepOutcome> {
  return new Promise((resolve) => {
    const [program, ...args] = command;
    const child = spawn(program!, args, { cwd, stdio: ["ignore", "pipe", "pipe"], signal });
    const lines: string[] = [];
    const collect = (echo: boolean) => {
      let partial = "";
      return (chunk: Buffer) => {
        const text = partial + chunk.toString("utf8");
        const parts = text.split("\n");
        partial = parts.pop()!;
        for (const line of parts) {
          lines.push(line);
          if (echo) onLine(line);
        }
      };
    };
    child.stdout.on("data", collect(false));
    child.stderr.on("data", collect(true));
    child.on("error", (err) => resolve({ ok: false, problems: [err.name === "AbortError" ? "stopped" : `cannot run ${program}: ${err.message}`] }));
    child.on("close", (code, signal) => {
      if (code === 0) return resolve({ ok: true, problems: [] });
      const problems = problemsFrom(lines);
      resolve({ ok: false, problems: problems.length > 0 ? problems : [`${args.join(" ")} exited with ${signal ?? `code ${code}`}`] });
    });
  });
}

export interface RebuilderSteps {
  /** recompiles the package (absent where there are no sources to compile) */
  compile?: () => Promise<StepOutcome>;
  build: () => Promise<StepOutcome>;
  onStart?: (job: { compile: boolean; files: readonly string[] }) => void;
  onDone?: (outcome: StepOutcome & { seconds: number }) => void;
}

export class Rebuilder {
  private running: Promise<void> | null = null;
  private next: { compile: boolean; files: Set<string> } | null = null;

  constructor(private readonly steps: RebuilderSteps) {}

  /** Asks for a rebuild; returns when the site holds every change asked for so far (built or failed). */
  request(kinds: ReadonlySet<ChangeKind>, files: readonly string[] = []): Promise<void> {
    const compile = kinds.has("compile") && this.steps.compile !== undefined;
    this.next ??= { compile: false, files: new Set() };
    this.next.compile ||= compile;
    for (const file of files) this.next.files.add(file);
    this.running ??= this.drain();
    return this.running;
  }

  /** Resolves once no job is running or waiting. */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    try {
      while (this.next) {
        const job = this.next;
        this.next = null;
        this.steps.onStart?.({ compile: job.compile, files: [...job.files] });
        const started = performance.now();
        let outcome: StepOutcome = { ok: true, problems: [] };
        if (job.compile) outcome = await this.steps.compile!();
        if (outcome.ok) outcome = await this.steps.build();
        this.steps.onDone?.({ ...outcome, seconds: (performance.now() - started) / 1000 });
      }
    } finally {
      this.running = null;
    }
  }
}
