/**
 * The TypeScript API reference page: everything `import … from "vfio-workbench"` gives a notebook
 * cell, read from kernel-lib/index.ts by the TypeScript compiler's type checker: each export's
 * name, kind, signature and doc comment (with its @example and other tags), grouped by the folder
 * it is defined in. From an installed package, where the .ts sources are not shipped, the same is
 * read from the compiled declarations (dist/kernel-lib/index.d.ts), which keep the doc comments.
 */
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import ts from "typescript";
import { packageInfo } from "../kernel-lib/kernel/package-root.js";
import type { ReferencePage } from "./cli-reference.js";

export interface ApiEntry {
  name: string;
  kind: "function" | "class" | "interface" | "type" | "enum" | "variable" | "namespace";
  /** declarations as TypeScript writes them, one per overload */
  signatures: string[];
  /** the doc comment's text (Markdown) */
  doc: string;
  /** @example, @param, @deprecated … as `tag`, text */
  tags: Array<{ name: string; text: string }>;
  /** where it is defined, relative to the package root, with the line */
  definedIn: string;
  /** a namespace's own exports */
  members?: ApiEntry[];
}

/** The package's entry: its sources in a checkout, its declarations in an installed package. */
export function apiEntryFile(root = packageInfo().root): string {
  const source = join(root, "kernel-lib", "index.ts");
  if (existsSync(source)) return source;
  const declarations = join(root, "dist", "kernel-lib", "index.d.ts");
  if (existsSync(declarations)) return declarations;
  throw new Error(`the API reference needs kernel-lib/index.ts or dist/kernel-lib/index.d.ts under ${root}; neither exists`);
}

const FORMAT = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseFullyQualifiedType | ts.TypeFormatFlags.WriteArrowStyleSignature;

function kindOf(symbol: ts.Symbol): ApiEntry["kind"] {
  const f = symbol.flags;
  if (f & ts.SymbolFlags.Class) return "class";
  if (f & ts.SymbolFlags.Function) return "function";
  if (f & ts.SymbolFlags.Enum) return "enum";
  if (f & ts.SymbolFlags.Interface) return "interface";
  if (f & ts.SymbolFlags.TypeAlias) return "type";
  if (f & (ts.SymbolFlags.ValueModule | ts.SymbolFlags.NamespaceModule)) return "namespace";
  return "variable";
}

/** A declaration's text with its body and doc comment cut: what a reader needs to call it. */
function declarationText(node: ts.Node, printer: ts.Printer): string {
  const file = node.getSourceFile();
  const strip = (n: ts.Node): ts.Node => {
    if (ts.isFunctionDeclaration(n)) return ts.factory.updateFunctionDeclaration(n, n.modifiers?.filter((m) => m.kind !== ts.SyntaxKind.ExportKeyword && m.kind !== ts.SyntaxKind.DeclareKeyword), n.asteriskToken, n.name, n.typeParameters, n.parameters, n.type, undefined);
    return n;
  };
  const text = printer.printNode(ts.EmitHint.Unspecified, strip(node), file);
  return text.replace(/^\s*\/\*\*[\s\S]*?\*\/\s*/, "").replace(/;$/, "");
}

class Reader {
  private readonly printer = ts.createPrinter({ removeComments: true });

  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly root: string,
  ) {}

  entries(moduleSymbol: ts.Symbol): ApiEntry[] {
    return this.checker
      .getExportsOfModule(moduleSymbol)
      .map((s) => this.entry(s))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  private entry(exported: ts.Symbol): ApiEntry {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? this.checker.getAliasedSymbol(exported) : exported;
    const declarations = symbol.declarations ?? [];
    const first = declarations[0];
    const kind = kindOf(symbol);
    const entry: ApiEntry = {
      name: exported.name,
      kind,
      signatures: this.signatures(exported.name, symbol, kind, declarations),
      doc: ts.displayPartsToString(symbol.getDocumentationComment(this.checker)).trim(),
      tags: symbol.getJsDocTags(this.checker).map((t) => ({ name: t.name, text: ts.displayPartsToString(t.text).trim() })),
      definedIn: first ? this.location(first) : "",
    };
    if (kind === "namespace") entry.members = this.entries(symbol);
    return entry;
  }

  private location(node: ts.Node): string {
    const file = node.getSourceFile();
    const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
    return `${relative(this.root, file.fileName)}:${line + 1}`;
  }

  private signatures(name: string, symbol: ts.Symbol, kind: ApiEntry["kind"], declarations: readonly ts.Declaration[]): string[] {
    const at = declarations[0];
    switch (kind) {
      case "function": {
        const type = this.checker.getTypeOfSymbol(symbol);
        return type.getCallSignatures().map((s) => `function ${name}${this.checker.signatureToString(s, at, FORMAT & ~ts.TypeFormatFlags.WriteArrowStyleSignature)}`);
      }
      case "variable": {
        const type = this.checker.getTypeOfSymbol(symbol);
        const isConst = at && ts.isVariableDeclaration(at) && (ts.getCombinedNodeFlags(at) & ts.NodeFlags.Const) !== 0;
        return [`${isConst ? "const" : "let"} ${name}: ${this.checker.typeToString(type, at, ts.TypeFormatFlags.UseFullyQualifiedType)}`];
      }
      case "namespace":
        return [`namespace ${name}`];
      default:
        // classes, interfaces, type aliases and enums: their declarations, without bodies of code or doc comments
        return declarations.filter((d) => ts.isClassDeclaration(d) || ts.isInterfaceDeclaration(d) || ts.isTypeAliasDeclaration(d) || ts.isEnumDeclaration(d)).map((d) => this.shape(d));
    }
  }

  /** A class's public surface (constructor, properties, method signatures); an interface, type or enum as declared. */
  private shape(d: ts.Declaration): string {
    if (!ts.isClassDeclaration(d)) return declarationText(d, this.printer).replace(/^export (declare )?/, "");
    const members = d.members
      .filter((m) => !(ts.getCombinedModifierFlags(m) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) && !(m.name && ts.isPrivateIdentifier(m.name)))
      .map((m) => {
        if (ts.isMethodDeclaration(m) || ts.isConstructorDeclaration(m) || ts.isGetAccessorDeclaration(m) || ts.isSetAccessorDeclaration(m)) {
          const bodiless = ts.isMethodDeclaration(m)
            ? ts.factory.updateMethodDeclaration(m, m.modifiers, m.asteriskToken, m.name, m.questionToken, m.typeParameters, m.parameters, m.type ?? this.returnType(m), undefined)
            : ts.isConstructorDeclaration(m)
              ? ts.factory.updateConstructorDeclaration(m, m.modifiers, m.parameters, undefined)
              : ts.isGetAccessorDeclaration(m)
                ? ts.factory.updateGetAccessorDeclaration(m, m.modifiers, m.name, m.parameters, m.type ?? this.returnType(m), undefined)
                : ts.factory.updateSetAccessorDeclaration(m, m.modifiers, m.name, m.parameters, undefined);
          return this.printer.printNode(ts.EmitHint.Unspecified, bodiless, d.getSourceFile());
        }
        if (ts.isPropertyDeclaration(m)) {
          const typed = ts.factory.updatePropertyDeclaration(m, m.modifiers, m.name, m.questionToken ?? m.exclamationToken, m.type ?? this.typeNode(m), undefined);
          return this.printer.printNode(ts.EmitHint.Unspecified, typed, d.getSourceFile());
        }
        return null;
      })
      .filter((m): m is string => m !== null)
      .map((m) => "    " + m.replace(/\n/g, "\n    ").replace(/;?$/, ";"));
    const head = declarationText(ts.factory.updateClassDeclaration(d, d.modifiers, d.name, d.typeParameters, d.heritageClauses, []), this.printer)
      .replace(/^export (declare )?/, "")
      .replace(/\s*\{\s*\}$/, "");
    return `${head} {\n${members.join("\n")}\n}`;
  }

  private returnType(m: ts.SignatureDeclaration): ts.TypeNode | undefined {
    const signature = this.checker.getSignatureFromDeclaration(m);
    return signature ? this.checker.typeToTypeNode(this.checker.getReturnTypeOfSignature(signature), m, ts.NodeBuilderFlags.NoTruncation) : undefined;
  }

  private typeNode(m: ts.PropertyDeclaration): ts.TypeNode | undefined {
    return this.checker.typeToTypeNode(this.checker.getTypeAtLocation(m), m, ts.NodeBuilderFlags.NoTruncation);
  }
}

/** Every export of the package's entry, read by the type checker. */
export function readApi(entry = apiEntryFile()): ApiEntry[] {
  const program = ts.createProgram([entry], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
  });
  const file = program.getSourceFile(entry);
  const checker = program.getTypeChecker();
  const moduleSymbol = file && checker.getSymbolAtLocation(file);
  if (!moduleSymbol) throw new Error(`the API reference could not read ${entry} as a module`);
  // the package root: above kernel-lib/ (sources) or above dist/kernel-lib/ (declarations)
  const root = entry.includes(`${join("dist", "kernel-lib")}`) ? dirname(dirname(dirname(entry))) : dirname(dirname(entry));
  return new Reader(checker, root).entries(moduleSymbol);
}

const GROUP_TITLES: Readonly<Record<string, string>> = {
  display: "Display: figures, tables, claims",
  kernel: "Kernel and notebooks",
  vfio: "VFIO: containers, groups, devices, migration",
  backends: "Backends: the emulator and a real host",
  conformance: "Conformance suite",
  vmm: "The simulated VMM",
};

/** The folder of kernel-lib (or hw-emu) an entry is defined in: display, kernel, … */
function groupOf(entry: ApiEntry): string {
  const m = /(?:^|\/)(?:dist\/)?(kernel-lib|hw-emu)\/([^/]+)\//.exec(entry.definedIn);
  return m ? (m[1] === "hw-emu" ? `hw-emu/${m[2]}` : m[2]!) : "other";
}

function entrySection(entry: ApiEntry, depth: number): string {
  const parts = [`${"#".repeat(depth)} ${entry.name}`, `*${entry.kind}* — defined in \`${entry.definedIn}\``];
  if (entry.signatures.length > 0) parts.push("```ts\n" + entry.signatures.join("\n") + "\n```");
  if (entry.doc) parts.push(entry.doc);
  for (const tag of entry.tags) {
    if (tag.name === "example") parts.push("Example:\n\n```ts\n" + tag.text.replace(/^```\w*\n|\n```$/g, "") + "\n```");
    else parts.push(`**@${tag.name}** ${tag.text}`);
  }
  return parts.join("\n\n");
}

/** A namespace's members as one table: a namespace such as uapi has hundreds. */
function memberTable(members: readonly ApiEntry[]): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
  const rows = members.map((m) => `| \`${m.name}\` | ${m.kind} | ${m.signatures[0] ? "`" + cell(m.signatures[0]).replace(/`/g, "'") + "`" : ""} | ${cell(m.doc.split(/\n\s*\n/)[0] ?? "")} |`);
  return ["| name | kind | declaration | what it is |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

export function apiReferencePage(entries: readonly ApiEntry[] = readApi()): ReferencePage {
  const groups = new Map<string, ApiEntry[]>();
  for (const entry of entries) {
    const group = entry.kind === "namespace" ? `namespace ${entry.name}` : groupOf(entry);
    groups.set(group, [...(groups.get(group) ?? []), entry]);
  }
  const order = [...Object.keys(GROUP_TITLES), ...[...groups.keys()].filter((g) => !(g in GROUP_TITLES)).sort()];
  const sections: string[] = [
    "# API reference",
    'Everything a notebook cell can import from `"vfio-workbench"`, read from the package\'s entry (`kernel-lib/index.ts`) ' +
      "by the TypeScript compiler: names, kinds, signatures and doc comments. Generated at build time; nothing here is written by hand.",
  ];
  for (const group of order) {
    const members = groups.get(group);
    if (!members) continue;
    if (group.startsWith("namespace ")) {
      const ns = members[0]!;
      const from = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(ns.definedIn)?.[1];
      if (from) {
        // another package's namespace, passed through whole: its own documentation describes it
        sections.push(`## ${ns.name}`, `*namespace* — the package \`${from}\`, re-exported whole (${ns.members?.length ?? 0} exports); see that package's documentation.`);
        continue;
      }
      sections.push(`## ${ns.name}`, `*namespace* — defined in \`${ns.definedIn}\``);
      if (ns.doc) sections.push(ns.doc);
      sections.push(memberTable(ns.members ?? []));
      continue;
    }
    sections.push(`## ${GROUP_TITLES[group] ?? group}`, ...members.map((m) => entrySection(m, 3)));
  }
  return { title: "API reference", slug: "api", markdown: sections.join("\n\n") + "\n" };
}
