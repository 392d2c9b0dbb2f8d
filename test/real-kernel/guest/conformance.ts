/**
 * (b) The conformance suite against the kernel's own migration driver: the
 * mtty sample (STOP_COPY, P2P, PRE_COPY), once through the device cdev bound
 * to iommufd and once through its group in a type1v2 container, each time
 * with the second instance as the peer a saved state resumes into. Every
 * check is one result; skipped checks (those that need the emulator's lab)
 * are reported as skips. A last test carries a UART register across.
 */
import type { Syscalls } from "../../../hw-emu/uapi/index.js";
import { Device, Group, Container, type ResumeStream, type SaveStream } from "../../../kernel-lib/vfio/index.js";
import { runConformance, type DeviceLocator } from "../../../kernel-lib/conformance/index.js";
import type { DiffDevice } from "../shared/differential.js";
import { check, equal, hex, type Reporter } from "./report.js";

/** What the issue asks the suite to cover on a real driver; each prefix must have run and passed. */
const REQUIRED: readonly [string, string][] = [
  ["fsm.arc ", "every arc"],
  ["fsm.paths", "multi-step paths"],
  ["fsm.blocked", "the blocked arcs"],
  ["session.", "data fd sessions"],
  ["data.", "data fd reads and writes"],
  ["precopy.", "PRECOPY_INFO"],
  ["data-size.", "MIG_DATA_SIZE"],
  ["resume.round-trip", "a save resumed into the other instance"],
];

function runSuite(sys: Syscalls, r: Reporter, run: string, device: DeviceLocator, peer: DeviceLocator): void {
  let report;
  try {
    // this kernel (6.12.117) has the path finder's fix, so the blocked STOP_COPY -> PRE_COPY requests are safe to send
    report = runConformance({ kind: "device", sys, device, peer, name: `mtty (${run})` }, { probeBlockedArcs: true });
  } catch (e) {
    r.result("conformance", `${run}: the suite runs`, false, e instanceof Error ? e.message : String(e));
    return;
  }
  r.record({ t: "conformance", run, flags: report.flags, checks: report.checks });
  r.test("conformance", `${run}: mtty offers STOP_COPY, P2P and PRE_COPY`, () => equal(report.flags, "STOP_COPY,P2P,PRE_COPY", "migration flags"));
  for (const c of report.checks) {
    if (c.status === "skip") r.skip("conformance", `${run}: ${c.id}`, c.detail);
    else r.result("conformance", `${run}: ${c.id}`, c.status === "pass", c.status === "pass" ? "" : c.detail);
  }
  r.test("conformance", `${run}: the suite covered what a real migration driver must do`, () => {
    const missing = REQUIRED.filter(([prefix]) => !report.checks.some((c) => c.id.startsWith(prefix) && c.status === "pass")).map(([, what]) => what);
    check(missing.length === 0, `no passing check for: ${missing.join(", ")}`);
    return `${report.checks.filter((c) => c.id.startsWith("fsm.arc ")).length} arcs`;
  });
}

/** Save from A with a scratch value set, resume into B, and read the value back from B's UART. */
function stateCarriesOver(sys: Syscalls, r: Reporter, a: DiffDevice, b: DiffDevice): void {
  r.test("conformance", "type1: a UART scratch register saved on one instance reads back on the other", () => {
    const container = Container.open(sys);
    const groups: Group[] = [];
    const devices: Device[] = [];
    try {
      for (const d of [a, b]) {
        const g = Group.open(sys, d.group);
        groups.push(g);
        g.setContainer(container);
        if (groups.length === 1) container.setIommu();
        devices.push(g.device(d.name));
      }
      const [src, dst] = devices as [Device, Device];
      const scr = src.region(0);
      const value = 0x3c;
      scr.write(7, new Uint8Array([value]));
      const ms = src.migration;
      const md = dst.migration;
      check(ms !== null && md !== null, "an instance has no migration support");
      const save = ms.set("STOP_COPY").data as SaveStream | null;
      check(save !== null, "STOP_COPY returned no data fd");
      const chunks = save.readAvailable();
      save.close();
      ms.set("RUNNING");
      const resume = md.set("RESUMING").data as ResumeStream | null;
      check(resume !== null, "RESUMING returned no data fd");
      for (const c of chunks) resume.write(c);
      md.set("RUNNING");
      resume.close();
      const got = dst.region(0).read(7, 1)[0]!;
      equal(got, value, "the destination's scratch register");
      return `${chunks.reduce((n, c) => n + c.byteLength, 0)} bytes carried ${hex(value)}`;
    } finally {
      for (const d of devices) d.close();
      for (const g of groups) {
        g.unsetContainer();
        g.close();
      }
      container.close();
    }
  });
}

export function runConformanceTests(sys: Syscalls, r: Reporter, devices: readonly [DiffDevice, DiffDevice]): void {
  const [a, b] = devices;
  runSuite(sys, r, "cdev", { cdev: a.cdev }, { cdev: b.cdev });
  runSuite(sys, r, "type1", { group: a.group, bdf: a.name }, { group: b.group, bdf: b.name });
  stateCarriesOver(sys, r, a, b);
}
