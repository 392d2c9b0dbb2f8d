import MarkdownIt from "markdown-it";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../cli/program.js";
import { allCommands, cliReferencePage, commandPath } from "../../docs-site/cli-reference.js";

const md = new MarkdownIt();

/** What a line of inline Markdown says, its escapes and markup undone. */
function plain(inline: string): string {
  return md.parseInline(inline, {})[0]!.children!.map((c) => (c.type === "softbreak" ? "\n" : c.content)).join("");
}

function headings(markdown: string): string[] {
  const tokens = md.parse(markdown, {});
  return tokens.flatMap((t, i) => (t.type === "heading_open" ? [`${t.tag} ${plain(tokens[i + 1]!.content)}`] : []));
}

describe("cliReferencePage", () => {
  const program = buildProgram();
  const page = cliReferencePage(program);

  it("has a section for every command, nested ones under their parent", () => {
    expect(page.slug).toBe("cli");
    const names = program.commands.filter((c) => c.name() !== "help").map((c) => c.name());
    expect(names).toEqual(expect.arrayContaining(["abi", "bench", "check", "conform", "export", "fsm", "kernel", "run"]));
    const expected = ["h2 vfio-workbench", ...allCommands(program).map((c) => `h${commandPath(c).split(" ").length + 1} ${commandPath(c)}`)];
    expect(headings(page.markdown)).toEqual([`h1 ${page.title}`, ...expected]);
    for (const top of names) expect(headings(page.markdown)).toContain(`h3 vfio-workbench ${top}`);
    expect(headings(page.markdown)).toContain("h4 vfio-workbench fsm path");
  });

  it("lists every option of every command with the description and default --help shows, and every argument", () => {
    for (const command of [program, ...allCommands(program)]) {
      const help = command.createHelp();
      const start = page.markdown.indexOf(`# ${commandPath(command)}\n`);
      const end = page.markdown.indexOf("\n#", start + 1);
      const sectionText = page.markdown.slice(start, end === -1 ? undefined : end);
      expect(sectionText).toContain("```text\n" + help.commandUsage(command) + "\n```");
      for (const option of help.visibleOptions(command)) {
        if (option.long === "--help" && command.parent) continue;
        expect(sectionText, `${commandPath(command)} ${option.flags}`).toContain(`| \`${help.optionTerm(option)}\` |`);
        const description = help.optionDescription(option);
        const row = sectionText.split("\n").find((l) => l.startsWith(`| \`${help.optionTerm(option)}\``))!;
        expect(plain(row.slice(row.indexOf("` | ") + 4, -2)).replace(/\\\|/g, "|")).toBe(description);
      }
      for (const argument of help.visibleArguments(command)) expect(sectionText).toContain(`| \`${help.argumentTerm(argument)}\` |`);
    }
  });

  it("is generated from the program it is given, not written out", () => {
    const other = new Command("tool").description("a tool");
    other.command("go").description("goes | fast").option("--speed <n>", "how fast", "3").argument("<where>", "the place");
    const page = cliReferencePage(other);
    expect(headings(page.markdown)).toEqual(["h1 The tool command line", "h2 tool", "h3 tool go"]);
    expect(page.markdown).toContain("| `--speed <n>` | how fast (default: \"3\") |");
    expect(page.markdown).toContain("| `where` | the place |");
    expect(page.markdown).toContain("goes \\| fast");
  });
});
