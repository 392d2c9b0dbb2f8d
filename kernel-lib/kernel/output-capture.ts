import { TextDecoder } from "node:util";

export type StreamName = "stdout" | "stderr";

/** Flush buffered text once it is this old (checked on every write, so even a busy loop streams) ... */
const FLUSH_AFTER_MS = 50;
/** ... or this large. Batching keeps a chatty cell from flooding iopub with one message per line. */
const FLUSH_AFTER_CHARS = 16 * 1024;

type Write = typeof process.stdout.write;

/**
 * Captures process.stdout and process.stderr for the kernel's lifetime and hands the text to
 * `emit` in batches, in order. The kernel's own diagnostics go to the real stderr via `log`.
 */
export class OutputCapture {
  private readonly original: Record<StreamName, Write>;
  private buffered: { name: StreamName; text: string; since: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly decoders: Record<StreamName, TextDecoder> = { stdout: new TextDecoder(), stderr: new TextDecoder() };

  constructor(private readonly emit: (name: StreamName, text: string) => void) {
    this.original = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) };
  }

  install(): void {
    process.stdout.write = this.writer("stdout");
    process.stderr.write = this.writer("stderr");
  }

  uninstall(): void {
    this.flush();
    process.stdout.write = this.original.stdout;
    process.stderr.write = this.original.stderr;
  }

  /** Writes to the kernel process's real stderr (the kernel's own log, not cell output). */
  log(text: string): void {
    this.original.stderr(text.endsWith("\n") ? text : `${text}\n`);
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const pending = this.buffered;
    this.buffered = null;
    if (pending && pending.text !== "") this.emit(pending.name, pending.text);
  }

  private add(name: StreamName, text: string): void {
    if (text === "") return;
    if (this.buffered && this.buffered.name !== name) this.flush();
    const now = performance.now();
    if (this.buffered) this.buffered.text += text;
    else this.buffered = { name, text, since: now };
    if (this.buffered.text.length >= FLUSH_AFTER_CHARS || now - this.buffered.since >= FLUSH_AFTER_MS) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flush();
    }, FLUSH_AFTER_MS);
  }

  private writer(name: StreamName): Write {
    const decoder = this.decoders[name];
    return ((chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean => {
      let text: string;
      if (typeof chunk === "string") {
        text = typeof encodingOrCallback === "string" && encodingOrCallback !== "utf8" && encodingOrCallback !== "utf-8"
          ? Buffer.from(chunk, encodingOrCallback as BufferEncoding).toString("utf8")
          : chunk;
      } else if (chunk instanceof Uint8Array) {
        text = decoder.decode(chunk, { stream: true });
      } else {
        text = String(chunk);
      }
      this.add(name, text);
      const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback;
      if (typeof done === "function") queueMicrotask(() => (done as (err?: Error | null) => void)(null));
      return true;
    }) as Write;
  }
}
