/**
 * The notebook validator `check` uses agrees with Jupyter's own (Debian's python3-nbformat) on a
 * corpus of valid notebooks and of notebooks that each break one rule of nbformat 4.5.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nbformatProblems } from "../../kernel-lib/kernel/nbformat-validate.js";
import { repoRoot } from "./helpers.js";

type Json = Record<string, unknown>;

function base(): Json {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "vfio-workbench", display_name: "TypeScript (vfio-workbench)", language: "typescript" }, language_info: { name: "typescript" } },
    cells: [
      { id: "intro", cell_type: "markdown", metadata: {}, source: ["# Title\n", "text"] },
      {
        id: "code-1",
        cell_type: "code",
        metadata: { tags: ["raises-exception", "hide-input"], collapsed: false, scrolled: "auto" },
        source: "1 + 1",
        execution_count: 1,
        outputs: [
          { output_type: "stream", name: "stdout", text: ["a\n", "b"] },
          { output_type: "execute_result", execution_count: 1, data: { "text/plain": "2", "application/vnd.vegalite.v5+json": { mark: "bar" } }, metadata: {} },
          { output_type: "display_data", data: { "image/svg+xml": ["<svg/>"], "application/json": [1, 2] }, metadata: { isolated: true } },
          { output_type: "error", ename: "Error", evalue: "x", traceback: ["Error: x"] },
        ],
      },
      { id: "raw_1", cell_type: "raw", metadata: { format: "text/x-rst" }, source: "" },
      { id: "unrun", cell_type: "code", metadata: {}, source: [], execution_count: null, outputs: [] },
      { id: "pic", cell_type: "markdown", metadata: {}, source: "![x](attachment:x.png)", attachments: { "x.png": { "image/png": "iVBORw0KGgo=" } } },
    ],
  };
}

type Edit = (nb: Json & { cells: Json[] }) => void;
const code = (nb: { cells: Json[] }) => nb.cells[1]!;
const outputsOf = (nb: { cells: Json[] }) => code(nb).outputs as Json[];

/** name -> how it breaks (or keeps) the format; names starting "valid" must pass both validators */
const cases: Record<string, Edit> = {
  valid: () => {},
  "valid-no-language-info": (nb) => delete (nb.metadata as Json).language_info,
  "valid-extra-notebook-metadata": (nb) => ((nb.metadata as Json).vfio = { any: "thing" }),
  "valid-minor-6": (nb) => (nb.nbformat_minor = 6),
  "missing-id": (nb) => delete code(nb).id,
  "duplicate-id": (nb) => (nb.cells[3]!.id = "code-1"),
  "id-with-space": (nb) => (code(nb).id = "code 1"),
  "id-too-long": (nb) => (code(nb).id = "a".repeat(65)),
  "empty-id": (nb) => (code(nb).id = ""),
  "minor-4": (nb) => (nb.nbformat_minor = 4),
  "major-5": (nb) => (nb.nbformat = 5),
  "unknown-top-level-key": (nb) => (nb.extra = 1),
  "no-metadata": (nb) => delete nb.metadata,
  "kernelspec-without-display-name": (nb) => delete ((nb.metadata as Json).kernelspec as Json).display_name,
  "unknown-cell-key": (nb) => (code(nb).prompt = 1),
  "markdown-with-outputs": (nb) => (nb.cells[0]!.outputs = []),
  "code-without-outputs": (nb) => delete code(nb).outputs,
  "code-without-execution-count": (nb) => delete code(nb).execution_count,
  "negative-execution-count": (nb) => (code(nb).execution_count = -1),
  "unknown-cell-type": (nb) => (nb.cells[2]!.cell_type = "heading"),
  "tag-with-comma": (nb) => ((code(nb).metadata as Json).tags = ["a,b"]),
  "duplicate-tags": (nb) => ((code(nb).metadata as Json).tags = ["a", "a"]),
  "scrolled-string": (nb) => ((code(nb).metadata as Json).scrolled = "yes"),
  "source-number": (nb) => (code(nb).source = 1),
  "stream-without-name": (nb) => delete outputsOf(nb)[0]!.name,
  "stream-text-object": (nb) => (outputsOf(nb)[0]!.text = { a: 1 }),
  "unknown-output-type": (nb) => (outputsOf(nb)[0]!.output_type = "log"),
  "display-data-with-execution-count": (nb) => (outputsOf(nb)[2]!.execution_count = 1),
  "execute-result-without-count": (nb) => delete outputsOf(nb)[1]!.execution_count,
  "text-mime-holding-object": (nb) => ((outputsOf(nb)[2]!.data as Json)["text/html"] = { a: 1 }),
  "error-without-traceback": (nb) => delete outputsOf(nb)[3]!.traceback,
  "transient-saved": (nb) => (outputsOf(nb)[2]!.transient = { display_id: "x" }),
};

const DEBIAN_PYTHON = "/usr/bin/python3";
const haveNbformat = existsSync(DEBIAN_PYTHON) && spawnSync(DEBIAN_PYTHON, ["-c", "import nbformat"]).status === 0;

/** nbformat's verdict on each file of a folder: name -> valid */
function jupyterVerdicts(dir: string): Record<string, boolean> {
  const script = [
    "import json, os, sys, warnings, nbformat",
    "warnings.simplefilter('ignore')",
    "out = {}",
    "for name in sorted(os.listdir(sys.argv[1])):",
    "    try:",
    "        nb = json.load(open(os.path.join(sys.argv[1], name)))",
    // strict: reading with nbformat.reads() or validating with the defaults would repair missing and duplicate ids
    "        nbformat.validate(nb, version=4, version_minor=5, repair_duplicate_cell_ids=False)",
    "        out[name] = nb['nbformat'] == 4 and nb['nbformat_minor'] >= 5",
    "    except Exception:",
    "        out[name] = False",
    "print(json.dumps(out))",
  ].join("\n");
  const r = spawnSync(DEBIAN_PYTHON, ["-c", script, dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`nbformat failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, boolean>;
}

const dir = mkdtempSync(join(tmpdir(), "vwb-nbformat-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("nbformat 4.5 validation", () => {
  for (const [name, edit] of Object.entries(cases)) {
    const nb = base() as Json & { cells: Json[] };
    edit(nb);
    writeFileSync(join(dir, `${name}.ipynb`), JSON.stringify(nb));
  }

  it("accepts the valid notebooks and names one problem for each broken rule", () => {
    for (const [name] of Object.entries(cases)) {
      const problems = nbformatProblems(JSON.parse(readFileSync(join(dir, `${name}.ipynb`), "utf8")));
      if (name.startsWith("valid")) expect(problems, name).toEqual([]);
      else expect(problems.length, name).toBeGreaterThan(0);
    }
  });

  it("says where the problem is, as a reader counts", () => {
    const nb = base() as Json & { cells: Json[] };
    delete code(nb).id;
    expect(nbformatProblems(nb)).toEqual(["cell 2 (code): must have required property 'id'"]);
    const dup = base() as Json & { cells: Json[] };
    dup.cells[3]!.id = "code-1";
    expect(nbformatProblems(dup)).toEqual(['cell 4: id "code-1" is already the id of cell 2 (cell ids must be unique)']);
    const out = base() as Json & { cells: Json[] };
    outputsOf(out)[0]!.extra = 1;
    expect(nbformatProblems(out)).toEqual(['cell 2 (code), output 1: unknown property "extra"']);
  });

  it.skipIf(!haveNbformat)("agrees with Jupyter's validator (python3-nbformat) on every file", () => {
    const verdicts = jupyterVerdicts(dir);
    expect(Object.keys(verdicts).length).toBe(Object.keys(cases).length);
    for (const file of readdirSync(dir)) {
      const ours = nbformatProblems(JSON.parse(readFileSync(join(dir, file), "utf8"))).length === 0;
      expect(ours, file).toBe(verdicts[file]);
    }
  });

  it.skipIf(!haveNbformat)("agrees on the project's own notebooks", () => {
    const notebooks = join(repoRoot, "notebooks");
    const verdicts = jupyterVerdicts(notebooks);
    for (const [file, valid] of Object.entries(verdicts)) {
      expect(nbformatProblems(JSON.parse(readFileSync(join(notebooks, file), "utf8"))).length === 0, file).toBe(valid);
    }
  });
});
