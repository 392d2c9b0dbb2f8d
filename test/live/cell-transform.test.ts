import { createContext, runInContext } from "node:vm";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { CellSyntaxError, transformCell } from "../../docs-site/live/cell-transform.js";

/** Runs cells one after the other in one global scope, as the live runner's worker does. */
function session(modules: Record<string, unknown> = {}) {
  const context = createContext({
    __vwImport: (name: string) => {
      if (!(name in modules)) throw new Error(`no module ${name}`);
      return modules[name];
    },
  });
  return async (code: string): Promise<unknown> => {
    const cell = transformCell(ts, code);
    runInContext(cell.declarations, context);
    const result = (await runInContext(cell.body, context)) as { value?: unknown };
    return "value" in result ? result.value : "(no value)";
  };
}

describe("transformCell", () => {
  it("keeps a cell's top-level declarations for the cells after it, destructuring included, and lets a later cell declare a name again", async () => {
    const run = session();
    expect(await run("const a = 2;\nlet { b, c: [d] } = { b: 3, c: [4] };")).toBe("(no value)");
    expect(await run("a + b + d")).toBe(9);
    expect(await run("const a = 10;\na")).toBe(10);
    expect(await run("var later;\nlater === undefined")).toBe(true);
  });

  it("hoists functions, and keeps classes and enums, across cells", async () => {
    const run = session();
    await run("const early = twice(4);\nfunction twice(n: number): number { return 2 * n; }\nclass Box { constructor(readonly v: number) {} }\nenum State { STOP, RUNNING }");
    expect(await run("[early, twice(5), new Box(3).v, State.RUNNING, State[0]]")).toEqual([8, 10, 3, 1, "STOP"]);
  });

  it("turns imports into the runner's modules: named, renamed, namespace and default; type-only imports vanish", async () => {
    const lib = { uapi: { VFIO_TYPE: 59 }, claim: () => "claimed", default: "the default" };
    const run = session({ "vfio-workbench": lib });
    await run('import { uapi, claim as check } from "vfio-workbench";\nimport * as vw from "vfio-workbench";\nimport type { Device } from "vfio-workbench";\nimport def from "vfio-workbench";');
    expect(await run("[uapi.VFIO_TYPE, check(), vw === vw, def]")).toEqual([59, "claimed", true, "the default"]);
  });

  it("runs top-level await, and strips the types", async () => {
    const run = session();
    expect(await run("interface Pair { a: number }\ntype N = number;\nconst v: N = await Promise.resolve(7);\nconst p: Pair = { a: v as number };\np.a * 2")).toBe(14);
  });

  it("gives the last expression statement's value only, and none for a cell that ends otherwise", async () => {
    const run = session();
    expect(await run("1 + 1;\nconst x = 3;")).toBe("(no value)");
    expect(await run("if (true) { 5 }")).toBe("(no value)");
    expect(await run("'a' + 'b'")).toBe("ab");
  });

  it("reports code that does not parse as a SyntaxError", () => {
    expect(() => transformCell(ts, "const = 4")).toThrow(CellSyntaxError);
  });
});
