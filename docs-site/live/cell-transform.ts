/**
 * Turns one notebook cell (TypeScript, as a reader edits it in the page) into a script the live
 * runner can evaluate in its worker's global scope, keeping what the cell declares for the cells
 * after it, as tslab keeps declarations between cells:
 * - every top-level `const`, `let`, `var`, function, class and enum name is hoisted to a global
 *   `var` (a later cell may declare it again, as in tslab);
 * - `import … from "M"` becomes assignments from `__vwImport("M")`, the runner's module table;
 * - the body runs in an async function, so a cell may `await` at its top level;
 * - the value of a last expression statement is the cell's value (its execute_result).
 * Types are stripped by the compiler's transpiler; nothing is type-checked (the built pages were).
 */
import type ts from "typescript";

export interface TransformedCell {
  /** `var a, b;` for the global scope, evaluated before `body` */
  declarations: string;
  /** an expression: an async function's call, which resolves to `{ value }` or `{}` */
  body: string;
  /** the names the cell declares at its top level */
  names: string[];
}

export class CellSyntaxError extends Error {
  override name = "SyntaxError";
}

/** Names bound by a binding pattern (`{ a, b: [c] }` → a, c). */
function boundNames(t: typeof ts, name: ts.BindingName, out: string[]): void {
  if (t.isIdentifier(name)) out.push(name.text);
  else for (const element of name.elements) if (!t.isOmittedExpression(element)) boundNames(t, element.name, out);
}

function importAssignments(t: typeof ts, node: ts.ImportDeclaration, source: ts.SourceFile, names: string[]): string {
  const clause = node.importClause;
  const from = (node.moduleSpecifier as ts.StringLiteral).text;
  const module = `__vwImport(${JSON.stringify(from)})`;
  if (!clause) return `${module};`;
  if (clause.isTypeOnly) return "";
  const parts: string[] = [];
  if (clause.name) {
    names.push(clause.name.text);
    parts.push(`${clause.name.text} = __m.default;`);
  }
  const bindings = clause.namedBindings;
  if (bindings && t.isNamespaceImport(bindings)) {
    names.push(bindings.name.text);
    parts.push(`${bindings.name.text} = __m;`);
  } else if (bindings) {
    for (const element of bindings.elements) {
      if (element.isTypeOnly) continue;
      const local = element.name.text;
      const imported = (element.propertyName ?? element.name).getText(source);
      names.push(local);
      parts.push(`${local} = __m[${JSON.stringify(imported)}];`);
    }
  }
  return parts.length === 0 ? "" : `{ const __m = ${module}; ${parts.join(" ")} }`;
}

/** The cell rewritten (still TypeScript): declarations as assignments to hoisted names. */
function rewrite(t: typeof ts, code: string): { text: string; names: string[] } {
  const source = t.createSourceFile("cell.ts", code, t.ScriptTarget.ES2022, true, t.ScriptKind.TS);
  const names: string[] = [];
  const pieces: string[] = [];
  const statements = source.statements;
  statements.forEach((statement, index) => {
    const text = statement.getText(source);
    const last = index === statements.length - 1;
    if (t.isImportDeclaration(statement)) {
      pieces.push(importAssignments(t, statement, source, names));
    } else if (t.isVariableStatement(statement)) {
      const assignments: string[] = [];
      for (const d of statement.declarationList.declarations) {
        boundNames(t, d.name, names);
        if (!d.initializer) continue;
        const target = d.name.getText(source);
        // a destructuring assignment needs parentheses to be an expression statement
        assignments.push(t.isIdentifier(d.name) ? `${target} = (${d.initializer.getText(source)});` : `(${target} = (${d.initializer.getText(source)}));`);
      }
      pieces.push(assignments.join(" "));
    } else if (t.isFunctionDeclaration(statement) && statement.name && statement.body) {
      names.push(statement.name.text);
      // hoisted like a declaration: assigned before anything else in the cell runs
      pieces.unshift(`${statement.name.text} = ${text.replace(/^(export\s+)?(default\s+)?/, "")};`);
    } else if (t.isClassDeclaration(statement) && statement.name) {
      names.push(statement.name.text);
      pieces.push(`${statement.name.text} = ${text.replace(/^(export\s+)?(default\s+)?/, "")};`);
    } else if (t.isEnumDeclaration(statement) || t.isModuleDeclaration(statement)) {
      // the transpiler writes these as `var E; (function (E) { … })(E || (E = {}))`, a var that would
      // be local to the cell's function: built in a function of its own and assigned to the global
      const name = statement.name.getText(source);
      names.push(name);
      pieces.push(`${name} = (() => { ${text.replace(/^(export\s+)?(declare\s+)?(const\s+)?/, "")}\nreturn ${name}; })();`);
    } else if (last && t.isExpressionStatement(statement)) {
      pieces.push(`return { value: (${statement.expression.getText(source)}) };`);
    } else {
      pieces.push(text);
    }
  });
  return { text: pieces.join("\n"), names: [...new Set(names)] };
}

/** The cell as a script for the worker's global scope; throws CellSyntaxError for code that does not parse. */
export function transformCell(t: typeof ts, code: string): TransformedCell {
  const syntax = t.transpileModule(code, { compilerOptions: { target: t.ScriptTarget.ES2022 }, reportDiagnostics: true }).diagnostics?.find((d) => d.category === t.DiagnosticCategory.Error);
  if (syntax) throw new CellSyntaxError(t.flattenDiagnosticMessageText(syntax.messageText, "\n"));
  const { text, names } = rewrite(t, code);
  const output = t.transpileModule(`(async () => {\n${text}\nreturn {};\n})()`, {
    compilerOptions: { target: t.ScriptTarget.ES2022, module: t.ModuleKind.ESNext, isolatedModules: true, alwaysStrict: false },
    reportDiagnostics: true,
  });
  const error = output.diagnostics?.find((d) => d.category === t.DiagnosticCategory.Error);
  if (error) throw new CellSyntaxError(t.flattenDiagnosticMessageText(error.messageText, "\n"));
  // the transpiler may add `export {}` for a module; the body is a plain expression
  const body = output.outputText.replace(/^\s*export \{\};?\s*$/m, "").trim().replace(/;$/, "");
  return { declarations: names.length > 0 ? `var ${names.join(", ")};` : "", body, names };
}
