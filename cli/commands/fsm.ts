import type { Command } from "commander";
import { FLAG_SETS, STATE_VALUE, findFlagSet } from "../../hw-emu/uapi/migration-fsm.js";
import type { MigStateName } from "../../hw-emu/uapi/index.js";
import { FsmProbe, walkAllFsmPaths } from "../../kernel-lib/conformance/fsm-probe.js";
import { FSM_KERNEL_VERSIONS, FsmTableError, fsmDiff, fsmDiffText } from "../../kernel-lib/vfio/fsm-diff.js";
import { UsageError } from "../errors.js";

const STATES = Object.keys(STATE_VALUE).filter((s) => s !== "ERROR") as MigStateName[];
const ALL = "STOP_COPY,P2P,PRE_COPY";

function parseState(text: string): MigStateName {
  const name = text.toUpperCase().replace(/^VFIO_DEVICE_STATE_/, "").replace(/-/g, "_") as MigStateName;
  if (!STATES.includes(name)) throw new UsageError(`unknown state "${text}"; states: ${STATES.join(", ")} (ERROR cannot be requested)`);
  return name;
}

function parseFlags(text: string): string {
  const set = findFlagSet(text);
  if (!set) throw new UsageError(`"${text}" is not a legal flag set; choose one of ${FLAG_SETS.map((f) => f.name).join(" | ")}`);
  return set.name;
}

export function registerFsm(program: Command): void {
  const fsm = program.command("fsm").description("the v2 migration state machine as the emulated kernel walks it");

  fsm
    .command("paths")
    .description("every supported (from, to) pair's path for each flag set, driven through the emulated kernel")
    .option("--json", 'print {"FLAGS": {"FROM": {"TO": [states...] | "EINVAL"}}}')
    .option("--flags <set>", "only one flag set, e.g. STOP_COPY,P2P")
    .action((opts: { json?: boolean; flags?: string }) => {
      const paths = opts.flags ? { [parseFlags(opts.flags)]: new FsmProbe(parseFlags(opts.flags)).allPaths() } : walkAllFsmPaths();
      if (opts.json) {
        process.stdout.write(JSON.stringify(paths, null, 2) + "\n");
        return;
      }
      const lines: string[] = [];
      for (const [set, table] of Object.entries(paths)) {
        lines.push(`== ${set} ==`);
        for (const [from, row] of Object.entries(table)) {
          for (const [to, p] of Object.entries(row)) {
            if (from === to) continue;
            lines.push(`  ${from.padEnd(12)} -> ${to.padEnd(12)} ${p === "EINVAL" ? "EINVAL" : p.join(" -> ")}`);
          }
        }
      }
      process.stdout.write(lines.join("\n") + "\n");
    });

  fsm
    .command("path")
    .description("the path the kernel takes from one state to another")
    .argument("<from>", `a state: ${STATES.join(", ")}`)
    .argument("<to>", "a state")
    .option("--flags <set>", `the device's migration flags (${FLAG_SETS.map((f) => f.name).join(" | ")})`, ALL)
    .action((fromText: string, toText: string, opts: { flags: string }) => {
      const from = parseState(fromText);
      const to = parseState(toText);
      const set = parseFlags(opts.flags);
      const probe = new FsmProbe(set);
      if (!probe.allStates().includes(from)) throw new UsageError(`${from} needs migration flags ${set} does not have`);
      if (!probe.allStates().includes(to)) throw new UsageError(`${to} needs migration flags ${set} does not have`);
      const p = probe.path(from, to);
      if (p === "EINVAL") {
        process.stdout.write(`${from} -> ${to}: refused (EINVAL)\n`);
        return;
      }
      const arcs = p.length - 1;
      process.stdout.write(`${p.join(" -> ")}  (${arcs} arc${arcs === 1 ? "" : "s"}, flags ${set})\n`);
    });

  fsm
    .command("diff")
    .description("the requests whose path changed between two kernels' path tables (or JSON tables you supply)")
    .requiredOption("--from <table>", `the older table: a kernel version (${FSM_KERNEL_VERSIONS.join(", ")}) or a JSON file`)
    .requiredOption("--to <table>", "the newer table: a kernel version or a JSON file")
    .option("--flags <set>", `the device's migration flags (${FLAG_SETS.map((f) => f.name).join(" | ")})`, ALL)
    .option("--json", "print the diff as JSON")
    .action((opts: { from: string; to: string; flags: string; json?: boolean }) => {
      let d;
      try {
        d = fsmDiff(opts.from, opts.to, parseFlags(opts.flags));
      } catch (e) {
        if (e instanceof FsmTableError) throw new UsageError(e.message);
        throw e;
      }
      process.stdout.write((opts.json ? JSON.stringify(d, null, 2) : fsmDiffText(d)) + "\n");
    });
}
