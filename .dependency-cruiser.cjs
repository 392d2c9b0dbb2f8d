/**
 * The layer rules (README, "Development"). `npm run layers` checks them; every failure prints
 * the rule and the offending file → file. Layers, top to bottom; an import may point at its own
 * layer or any layer below it, never above. kernel-lib/index.ts is the package "vfio-workbench"
 * (tsconfig.layers.json resolves the name to it): it sits above the rest of kernel-lib.
 */
const LAYERS = [
  "notebooks",
  "cli",
  "docs-site",
  "kernel-lib/index\\.ts$",
  "kernel-lib/kernel",
  "kernel-lib/display",
  "kernel-lib/conformance",
  "kernel-lib/vmm",
  "kernel-lib/vfio",
  "kernel-lib/backends",
  "hw-emu/machine",
  "hw-emu/lab",
  "hw-emu/kernel",
  "hw-emu/hw",
  "hw-emu/sim",
  "hw-emu/uapi",
];
const dir = (l) => (l.endsWith("$") ? `^${l}` : `^${l}/`);
const upward = LAYERS.slice(1).map((layer, i) => ({
  name: "no-upward-import",
  comment: `${layer} may import only its own layer and those below it`,
  severity: "error",
  from: { path: dir(layer) },
  to: { path: `(${LAYERS.slice(0, i + 1).map(dir).join("|")})` },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: "hw-emu-door",
      comment: "above hw-emu only hw-emu/uapi and hw-emu/sim are imported (kernel-lib/backends may also use hw-emu/machine and hw-emu/lab)",
      severity: "error",
      from: { path: "^(notebooks|cli|docs-site|kernel-lib)/", pathNot: "^kernel-lib/backends/" },
      to: { path: "^hw-emu/", pathNot: "^hw-emu/(uapi|sim)/" },
    },
    {
      name: "hw-emu-door",
      comment: "kernel-lib/backends may import hw-emu/uapi, sim, machine and lab, nothing else of hw-emu",
      severity: "error",
      from: { path: "^kernel-lib/backends/" },
      to: { path: "^hw-emu/", pathNot: "^hw-emu/(uapi|sim|machine|lab)/" },
    },
    {
      name: "uapi-self-contained",
      comment: "hw-emu/uapi imports nothing outside itself",
      severity: "error",
      from: { path: "^hw-emu/uapi/" },
      to: { pathNot: "^hw-emu/uapi/" },
    },
    {
      name: "iommufd-below-vfio",
      comment: "the VFIO core calls into iommufd (bind, attach), never the other way; what both need (DMA ownership, user arguments) lives beside them in hw-emu/kernel",
      severity: "error",
      from: { path: "^hw-emu/kernel/iommufd/" },
      to: { path: "^hw-emu/kernel/vfio/" },
    },
    {
      name: "harness-beside",
      comment: "test/ and bench/ are harnesses: nothing imports them (but cli's bench verb runs bench/, and test/ may import bench/)",
      severity: "error",
      from: { pathNot: "^(test|bench)/|^cli/commands/bench\\.ts$" },
      to: { path: "^(test|bench)/" },
    },
    {
      name: "harness-beside",
      comment: "bench/ does not import test/",
      severity: "error",
      from: { path: "^bench/" },
      to: { path: "^test/" },
    },
    {
      name: "no-cycle",
      comment: "no import cycles, type-only imports included",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "notebooks-public-package",
      comment: "notebook cells import only the public package \"vfio-workbench\"",
      severity: "error",
      from: { path: "^notebooks/", pathNot: "^notebooks/09-writing-notebooks[.]ipynb/" },
      to: { pathNot: "^vfio-workbench$" },
    },
    {
      name: "authors-guide-tools",
      comment: "the authors' guide runs the command-line tool and parses notebooks, so it may use Node's own modules and the TypeScript compiler as well",
      severity: "error",
      from: { path: "^notebooks/09-writing-notebooks[.]ipynb/" },
      to: { pathNot: "^vfio-workbench$|^typescript$", dependencyTypesNot: ["core"] },
    },
    {
      name: "resolvable",
      comment: "every import resolves, so that the rules above see it",
      severity: "error",
      from: { pathNot: "^notebooks/" },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.layers.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"] },
  },
};
