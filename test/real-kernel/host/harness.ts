/**
 * The host half of the real-kernel test, called by run.sh:
 *
 *   harness.js prepare --repo R --stage S --init I --out INITRD
 *     runs the differential script on the emulator and packs the initramfs
 *     with that run, the known differences and the mtty UUIDs in /pkg/expected;
 *   harness.js notebooks
 *     prints the notebooks the guest executes, one a line;
 *   harness.js check --results F --console F --emulated F --markdown F [--draft F] [--executed DIR] [--emulated-notebooks DIR]
 *     reads what the guest sent, compares the differential runs, writes the
 *     known-differences page (and, with --draft, the unlisted differences as
 *     entries for known-differences.json), prints one line per notebook the
 *     guest executed (and, with --executed, writes the executed notebooks
 *     there) and exits 0 only if everything passed.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { compareRuns, validateKnownDifferences, type KnownDifferences } from "../shared/compare.js";
import { runDifferential, type DiffRecord } from "../shared/differential.js";
import { SECTIONS, parseGuestOutput, type TestRecord } from "../shared/protocol.js";
import { emulatedDiffTarget } from "./emulated.js";
import { knownDifferencesPage } from "./markdown.js";
import { compareNotebookOutputs, comparisonProblems, comparisonText, draftEntries, type NotebookComparison } from "./notebook-differential.js";
import { GUEST_NOTEBOOK_OPTIONS, notebookReports, selectGuestNotebooks, skipLines } from "./notebooks.js";

/**
 * The notebooks this run executes in the guest (REAL_KERNEL_NOTEBOOKS; see selectGuestNotebooks),
 * read from the repository, the working directory run.sh calls this from.
 */
let notebooksThisRun: readonly string[] = [];
import { packInitramfs } from "./pack-initramfs.js";

const KNOWN = "test/real-kernel/known-differences.json";
const ENTRY = "test/real-kernel/guest/main.js";
/** the Jupyter kernel's launcher (a process of its own, started by path), its control thread (a worker, started by URL) and the package's index, which cells import */
const KERNEL_ENTRIES = ["kernel-lib/kernel/launcher.js", "kernel-lib/kernel/control-thread.js", "kernel-lib/index.js"];
/**
 * what the kernel loads by require() of a name no import shows: tslab (its converter and
 * executor, with the TypeScript it bundles), typescript (cell-skips.ts reads cells with it) and
 * the Node.js types cells are type-checked against (tslab takes @types from the package's
 * node_modules, as `check` does on the host)
 */
const KERNEL_PACKAGES = ["tslab", "typescript", "@types/node"];

function options(argv: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!;
    const v = argv[i + 1];
    if (!k.startsWith("--") || v === undefined) throw new Error(`bad argument list near "${k}"`);
    m.set(k.slice(2), v);
  }
  return m;
}

function need(o: Map<string, string>, key: string): string {
  const v = o.get(key);
  if (v === undefined) throw new Error(`missing --${key}`);
  return v;
}

function loadKnown(repo: string): KnownDifferences {
  const known = JSON.parse(readFileSync(join(repo, KNOWN), "utf8")) as KnownDifferences;
  const problems = validateKnownDifferences(known);
  if (problems.length) throw new Error(`${KNOWN}: ${problems.join("; ")}`);
  return known;
}

function prepare(o: Map<string, string>): void {
  const repo = need(o, "repo");
  const target = emulatedDiffTarget();
  const emulated = runDifferential(target);
  const known = loadKnown(repo);
  writeFileSync(need(o, "emulated"), JSON.stringify(emulated));
  const packed = packInitramfs({
    repo,
    dist: join(repo, "dist"),
    stage: need(o, "stage"),
    entry: ENTRY,
    expected: {
      "emulated.json": JSON.stringify(emulated),
      "known-differences.json": JSON.stringify(known),
      "mtty-uuids": target.devices.map((d) => d.name).join("\n") + "\n",
      notebooks: notebooksThisRun.map((n) => `${n}\n`).join(""),
      "notebook-options.json": JSON.stringify(GUEST_NOTEBOOK_OPTIONS),
    },
    // the Jupyter kernel and what it loads, only when notebooks run
    entries: notebooksThisRun.length > 0 ? KERNEL_ENTRIES : [],
    types: notebooksThisRun.length > 0 ? ["kernel-lib/index.d.ts"] : [],
    packages: notebooksThisRun.length > 0 ? KERNEL_PACKAGES : [],
    files: notebooksThisRun,
    init: need(o, "init"),
    busybox: need(o, "busybox"),
    node: process.execPath,
    out: need(o, "out"),
  });
  console.log(
    `initramfs: ${(packed.bytes / 2 ** 20).toFixed(1)} MiB, ${packed.files} JavaScript files, node_modules: ${packed.packages.join(", ") || "none"}; emulated differential run: ${emulated.length} calls`,
  );
}

function check(o: Map<string, string>): number {
  const repo = need(o, "repo");
  const guest = parseGuestOutput(readFileSync(need(o, "results"), "utf8"));
  const problems: string[] = [];
  if (!guest.summary) {
    const consoleLog = readFileSync(need(o, "console"), "utf8").split("\n");
    console.log("---- the guest console's last lines ----");
    console.log(consoleLog.slice(-40).join("\n"));
    console.log("----");
    problems.push("the guest did not finish: no sentinel on the results channel (a panic, a hang or a crash; see the console above)");
  }
  if (guest.damaged.length) problems.push(`${guest.damaged.length} damaged record line(s) on the results channel`);

  const tests = guest.records.filter((r): r is TestRecord => r.t === "test");
  for (const t of tests.filter((x) => !x.ok)) problems.push(`guest test failed: ${t.section}: ${t.name}: ${t.detail}`);
  if (guest.summary) {
    console.log(`guest summary (Linux ${guest.summary.kernel}):`);
    for (const s of SECTIONS) {
      const c = guest.summary.sections[s];
      console.log(`  ${s}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
      if (c.failed > 0) problems.push(`${s}: ${c.failed} failed`);
      // the notebooks section is empty when REAL_KERNEL_NOTEBOOKS=none
      if (c.passed === 0 && !(s === "notebooks" && notebooksThisRun.length === 0)) problems.push(`${s}: nothing passed`);
    }
    const counted = SECTIONS.reduce((n, s) => n + guest.summary!.sections[s].passed + guest.summary!.sections[s].failed, 0);
    if (counted !== tests.length) problems.push(`the guest counted ${counted} results but sent ${tests.length}`);
  }

  const real = guest.records.flatMap((r) => (r.t === "diff" ? [r.record] : []));
  const emulated = JSON.parse(readFileSync(need(o, "emulated"), "utf8")) as DiffRecord[];
  const known = loadKnown(repo);
  console.log("notebooks (executed in the guest on the native backend):");
  const executed = o.get("executed");
  const emulatedNotebooks = o.get("emulated-notebooks");
  const notebookComparisons: NotebookComparison[] = [];
  if (notebooksThisRun.length === 0) console.log("  none: REAL_KERNEL_NOTEBOOKS=none");
  for (const report of notebookReports(guest.records, notebooksThisRun)) {
    // the same notebook executed on the host's emulator by run.sh: every cell run on both sides is compared
    let differences = "";
    const comparisonFailures: string[] = [];
    if (report.file !== null && report.record) {
      const emulatedFile = emulatedNotebooks ? join(emulatedNotebooks, basename(report.path)) : null;
      if (emulatedFile && existsSync(emulatedFile)) {
        const comparison = compareNotebookOutputs(report.path, report.file, readFileSync(emulatedFile, "utf8"), report.record.skipped.map((s) => s.cellId), known);
        notebookComparisons.push(comparison);
        differences = comparisonText(comparison);
        comparisonFailures.push(...comparisonProblems(comparison));
        for (const d of comparison.stale) console.log(`    note: ${KNOWN} lists ${d.notebook} cell ${d.cell}, which this run did not show as that difference; remove or update the entry`);
      } else {
        comparisonFailures.push(`${report.path}: not compared: the emulator's run of it did not complete${emulatedFile ? ` (see ${emulatedFile}.log)` : ""}`);
      }
    }
    console.log(`  ${report.line}${differences}`);
    if (report.record) for (const line of skipLines(report.record)) console.log(line);
    for (const p of [...report.problems, ...comparisonFailures]) console.log(`    FAILED: ${p}`);
    problems.push(...report.problems, ...comparisonFailures.map((p) => p.split("\n")[0]!));
    if (executed && report.file !== null) {
      mkdirSync(executed, { recursive: true });
      writeFileSync(join(executed, basename(report.path)), report.file);
    }
  }
  if (executed) console.log(`  executed notebooks: ${executed}`);
  const cellDrafts = notebookComparisons.flatMap(draftEntries);

  if (real.length) {
    const result = compareRuns(real, emulated, known);
    const count = (s: string) => result.comparisons.filter((c) => c.status === s).length;
    console.log(`differential (compared on the host): ${result.comparisons.length} calls, ${count("same")} identical, ${count("known")} known differences, ${count("unexpected")} unlisted`);
    for (const c of result.comparisons.filter((x) => x.status === "unexpected")) {
      console.log(`  unlisted difference at call ${c.i} "${c.step}":\n    real:     ${c.real}\n    emulated: ${c.emulated}`);
      problems.push(`unlisted difference: ${c.step}`);
    }
    for (const s of result.structural) problems.push(`differential: ${s}`);
    const unlisted = result.comparisons.filter((x) => x.status === "unexpected");
    const draft = o.get("draft");
    if ((unlisted.length || cellDrafts.length) && draft) {
      // entries ready to paste into known-differences.json once each has its reason (or the emulator is fixed)
      const differences = unlisted.map((c) => ({ step: c.step, real: c.real, emulated: c.emulated, reason: "" }));
      writeFileSync(draft, JSON.stringify({ differences, notebookCells: cellDrafts }, null, 2) + "\n");
      console.log(`  drafts of the unlisted entries: ${draft}`);
    }
    for (const d of result.stale) console.log(`  note: ${KNOWN} lists "${d.step}", which this run did not show as that difference; remove or update the entry`);
    // a guest that did not finish (a panic, a stopped run) leaves the page as it was
    if (guest.summary) {
      const page = need(o, "markdown");
      mkdirSync(dirname(page), { recursive: true });
      writeFileSync(page, knownDifferencesPage(result, { kernel: guest.summary.kernel, notebooks: notebookComparisons }));
      console.log(`wrote ${page}`);
    }
  } else {
    problems.push("the guest sent no differential records");
  }

  if (problems.length) {
    console.log(`FAIL: ${problems.length} problem(s):`);
    for (const p of problems) console.log(`  - ${p}`);
    return 1;
  }
  console.log(`PASS: the native backend, the conformance suite, the differential test${notebooksThisRun.length > 0 ? ` and ${notebooksThisRun.length} notebooks` : ""} all passed on a real kernel${notebooksThisRun.length > 0 ? "" : " (no notebook: REAL_KERNEL_NOTEBOOKS=none)"}`);
  return 0;
}

const [command, ...rest] = process.argv.slice(2);
try {
  notebooksThisRun = selectGuestNotebooks(process.env.REAL_KERNEL_NOTEBOOKS, (path) => readFileSync(path, "utf8"));
  if (command === "prepare") prepare(options(rest));
  else if (command === "check") process.exitCode = check(options(rest));
  else if (command === "notebooks") console.log(notebooksThisRun.join("\n"));
  else throw new Error(`usage: harness.js prepare|check --option value ... | harness.js notebooks`);
} catch (e) {
  console.error(`real-kernel harness: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 2;
}
