/**
 * The CLI reference page, generated from the commander program itself: every command (nested
 * ones too) with its usage, description, arguments and options, in the words and with the
 * defaults its own --help prints (commander's Help formats each item), so the page cannot
 * drift from the program. The program is passed in: docs-site sits below cli.
 */
import type { Command, Help } from "commander";
import { escapeMarkdown } from "../kernel-lib/display/escape.js";

export interface ReferencePage {
  title: string;
  slug: string;
  markdown: string;
}

/** `vfio-workbench fsm path`: the words that run a command. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Every command below `program`, depth first in --help's order (help itself excluded). */
export function allCommands(program: Command): Command[] {
  const help = program.createHelp();
  return help
    .visibleCommands(program)
    .filter((c) => c.name() !== "help")
    .flatMap((c) => [c, ...allCommands(c)]);
}

function table(header: [string, string], rows: ReadonlyArray<[string, string]>): string {
  if (rows.length === 0) return "";
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(["---", "---"]), ...rows.map(([term, text]) => line([`\`${term.replace(/`/g, "'")}\``, escapeMarkdown(text)]))].join("\n");
}

function section(command: Command, help: Help, depth: number): string {
  const parts = [`${"#".repeat(depth)} ${commandPath(command)}`];
  const description = help.commandDescription(command);
  if (description) parts.push(escapeMarkdown(description));
  // commandUsage names the parents too: "vfio-workbench fsm path [options] <from> <to>"
  parts.push("```text\n" + help.commandUsage(command) + "\n```");
  const args = help.visibleArguments(command).map((a) => [help.argumentTerm(a), help.argumentDescription(a)] as [string, string]);
  if (args.length > 0) parts.push("Arguments:\n\n" + table(["argument", "meaning"], args));
  const options = help
    .visibleOptions(command)
    .filter((o) => !(o.long === "--help" && command.parent))
    .map((o) => [help.optionTerm(o), help.optionDescription(o)] as [string, string]);
  if (options.length > 0) parts.push("Options:\n\n" + table(["option", "meaning"], options));
  const subcommands = help
    .visibleCommands(command)
    .filter((c) => c.name() !== "help")
    .map((c) => [help.subcommandTerm(c), help.subcommandDescription(c)] as [string, string]);
  if (subcommands.length > 0) parts.push("Commands:\n\n" + table(["command", "what it does"], subcommands));
  return parts.join("\n\n");
}

export function cliReferencePage(program: Command): ReferencePage {
  const help = program.createHelp();
  const name = program.name();
  const intro = [
    `# The \`${name}\` command line`,
    `Every command of \`${name}\`, as its own \`--help\` describes it (this page is generated from the program). ` +
      `Run \`npx ${name} COMMAND --help\` for the same text in a terminal.`,
  ];
  const sections = [section(program, help, 2)];
  const depthOf = (c: Command) => commandPath(c).split(" ").length;
  for (const command of allCommands(program)) sections.push(section(command, help, Math.min(1 + depthOf(command), 6)));
  return { title: `The ${name} command line`, slug: "cli", markdown: [...intro, ...sections].join("\n\n") + "\n" };
}
