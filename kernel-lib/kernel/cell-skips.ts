/**
 * Which cells a run on the native backend leaves out, and why. Two tags say a cell cannot or
 * must not run against a real /dev/vfio; a cell that uses what a left-out cell declared is left
 * out too, with the name it misses, rather than failing on it.
 */
import { createRequire } from "node:module";
import type ts from "typescript";
import type { BackendKind } from "../backends/backend-kind.js";

let compiler: typeof ts | undefined;
/** The TypeScript compiler, loaded on first use: it takes most of a second, and most commands never parse a cell. */
function typescript(): typeof ts {
  compiler ??= createRequire(import.meta.url)("typescript") as typeof ts;
  return compiler;
}

export { BACKEND_ENV, type BackendKind } from "../backends/backend-kind.js";

export const EMULATOR_ONLY_TAG = "emulator-only";
export const NEEDS_BLOCKED_ARC_FIX_TAG = "needs-blocked-arc-fix";

/** The tags that keep a cell off a real kernel, each with the line a reader sees in its place. */
export const NATIVE_SKIP_TAGS: Readonly<Record<string, { reason: string; optIn: boolean }>> = {
  [EMULATOR_ONLY_TAG]: {
    reason: "uses what only the emulator has (the lab API or an emulated device's insides)",
    optIn: false,
  },
  [NEEDS_BLOCKED_ARC_FIX_TAG]: {
    reason:
      'asks for a blocked arc, on which a kernel from v6.2 without "vfio: prevent infinite loop in vfio_mig_get_next_state() on blocked arc" spins holding the state mutex; run it with --allow needs-blocked-arc-fix on a kernel that has the fix',
    optIn: true,
  },
};

export interface SkipDecision {
  /** the tag that decided, or "dependency" */
  cause: string;
  /** one line for the reader, in the cell's place */
  reason: string;
}

/** Why a cell with `tags` is not run on `backend`, given the tags the user allowed; null when it runs. */
export function tagSkip(tags: readonly string[], backend: BackendKind, allowed: readonly string[] = []): SkipDecision | null {
  if (backend !== "native") return null;
  for (const tag of tags) {
    const rule = NATIVE_SKIP_TAGS[tag];
    if (!rule || (rule.optIn && allowed.includes(tag))) continue;
    return { cause: tag, reason: `skipped on the native backend (${tag}): this cell ${rule.reason}` };
  }
  return null;
}

/** The names a cell declares at its top level, and the names it reads anywhere. */
export function cellNames(code: string): { declares: Set<string>; uses: Set<string> } {
  const ts = typescript();
  const file = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const declares = new Set<string>();
  const bind = (name: ts.BindingName): void => {
    if (ts.isIdentifier(name)) declares.add(name.text);
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) bind(element.name);
  };
  for (const statement of file.statements) {
    if (ts.isVariableStatement(statement)) for (const d of statement.declarationList.declarations) bind(d.name);
    else if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement)) && statement.name) declares.add(statement.name.text);
    else if (ts.isTypeAliasDeclaration(statement) || ts.isInterfaceDeclaration(statement)) declares.add(statement.name.text);
    else if (ts.isImportDeclaration(statement) && statement.importClause) {
      const clause = statement.importClause;
      if (clause.name) declares.add(clause.name.text);
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) declares.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings)) for (const element of bindings.elements) declares.add(element.name.text);
    }
  }
  const uses = new Set<string>();
  const visit = (node: ts.Node): void => {
    // a property name after a dot is not a variable
    if (ts.isPropertyAccessExpression(node)) {
      visit(node.expression);
      return;
    }
    // nor is a key in an object literal or a type
    if ((ts.isPropertyAssignment(node) || ts.isPropertySignature(node) || ts.isPropertyDeclaration(node) || ts.isMethodDeclaration(node)) && !ts.isComputedPropertyName(node.name)) {
      ts.forEachChild(node, (child) => (child === node.name ? undefined : visit(child)));
      return;
    }
    if (ts.isIdentifier(node)) uses.add(node.text);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return { declares, uses };
}

/**
 * Follows a notebook's cells in order: what each declares, and which names are gone because the
 * cell that declared them last was skipped.
 */
export class CellDependencies {
  /** a name's cell (1-based among code cells) when that cell was skipped */
  private readonly missing = new Map<string, number>();

  /** The skip a cell earns by reading a name that only a skipped cell declared; null when it may run. */
  dependencySkip(code: string): SkipDecision | null {
    const { declares, uses } = cellNames(code);
    for (const name of uses) {
      const from = this.missing.get(name);
      if (from === undefined || declares.has(name)) continue;
      return { cause: "dependency", reason: `skipped: this cell uses \`${name}\`, which cell ${from} declares, and cell ${from} was skipped` };
    }
    return null;
  }

  /** Records a cell that ran (its declarations are there again) or was skipped (they are gone). */
  record(code: string, index: number, skipped: boolean): void {
    for (const name of cellNames(code).declares) {
      if (skipped) this.missing.set(name, index);
      else this.missing.delete(name);
    }
  }
}
