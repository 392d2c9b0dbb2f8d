import type { Command } from "commander";
import { IOCTL_DEFS, STRUCTS, abiJson, constantTable } from "../../hw-emu/uapi/index.js";
import { UsageError } from "../errors.js";

const SECTIONS = ["ioctls", "constants", "structs"] as const;
type Section = (typeof SECTIONS)[number];

function hex(n: number): string {
  return "0x" + n.toString(16).padStart(4, "0");
}

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

function renderIoctls(): string {
  return pad([["NAME", "REQUEST", "FD", "ARGUMENT"], ...IOCTL_DEFS.map((d) => [d.name, hex(d.request), d.fd, d.arg])]);
}

function renderConstants(): string {
  return pad([["NAME", "VALUE"], ...Object.entries(constantTable()).map(([k, v]) => [k, `${v} (0x${v.toString(16)})`])]);
}

function renderStructs(only?: string): string {
  const defs = Object.values(STRUCTS).filter((d) => !only || d.name === only);
  if (defs.length === 0) throw new UsageError(`no struct named ${only}; see \`vfio-workbench abi --section structs\``);
  return defs
    .map((d) => {
      const rows = [["  FIELD", "OFFSET", "SIZE", "TYPE"], ...d.fields.map((f) => [`  ${f.name}`, String(f.offset), String(f.size), f.type])];
      if (d.flexible) rows.push([`  ${d.flexible.name}[]`, String(d.size), "0", "flexible array"]);
      const rule = d.sizeRule === "none" ? "" : `, ${d.sizeRule} >= ${d.minsz}`;
      return `struct ${d.name} (${d.size} bytes${rule})\n${pad(rows)}`;
    })
    .join("\n\n");
}

export function registerAbi(program: Command): void {
  program
    .command("abi")
    .description("print the VFIO and iommufd ABI the emulator implements: request numbers, constants, struct layouts (Linux 6.12)")
    .option("--json", 'print {"ioctls": {NAME: number}, "constants": {NAME: number}, "structs": {name: {"size": n, "fields": {field: [offset, size]}}}}')
    .option("--section <name>", `print one section: ${SECTIONS.join(", ")}`)
    .option("--struct <name>", "print one struct's layout (kernel name, without `struct `)")
    .action((opts: { json?: boolean; section?: string; struct?: string }) => {
      if (opts.section !== undefined && !SECTIONS.includes(opts.section as Section)) {
        throw new UsageError(`unknown section "${opts.section}"; choose one of ${SECTIONS.join(", ")}`);
      }
      if (opts.json) {
        if (opts.section || opts.struct) throw new UsageError("--json prints the whole ABI; it takes no --section or --struct");
        process.stdout.write(JSON.stringify(abiJson(), null, 2) + "\n");
        return;
      }
      if (opts.struct) {
        process.stdout.write(renderStructs(opts.struct) + "\n");
        return;
      }
      const sections = opts.section ? [opts.section as Section] : SECTIONS;
      const render: Record<Section, () => string> = { ioctls: renderIoctls, constants: renderConstants, structs: () => renderStructs() };
      process.stdout.write(sections.map((s) => `== ${s} ==\n${render[s]()}`).join("\n\n") + "\n");
    });
}
