/**
 * Runs one benchmark in a process of its own (started by `vfio-workbench bench`), so that
 * memory measurements and JIT state are not disturbed by the benchmarks before it.
 * argv: NAME QUICK(0|1). Replies with one IPC message: {result} or {error}.
 */
import { benchmarks } from "./index.js";

async function runChild(): Promise<void> {
  const [name, quick] = process.argv.slice(2);
  const bench = benchmarks.find((b) => b.name === name);
  try {
    if (!bench) throw new Error(`no benchmark named ${name}`);
    const result = await bench.run({ quick: quick === "1" });
    process.send!({ result });
  } catch (err) {
    process.send!({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
  process.disconnect();
}

if (process.send) void runChild();
