import { describe, expect, it } from "vitest";
import { FLAG_SETS, pathTo, supportedStates } from "../../hw-emu/uapi/migration-fsm.js";
import { runCli } from "./run-cli.js";

type Paths = Record<string, Record<string, Record<string, string[] | "EINVAL">>>;

describe("vfio-workbench fsm", () => {
  const r = runCli(["fsm", "paths", "--json"]);
  const paths = JSON.parse(r.stdout) as Paths;

  it("paths --json covers the four flag sets and every supported pair, ERROR never appearing", () => {
    expect(r.status).toBe(0);
    expect(Object.keys(paths)).toEqual(["STOP_COPY", "STOP_COPY,P2P", "STOP_COPY,PRE_COPY", "STOP_COPY,P2P,PRE_COPY"]);
    for (const { name, flags } of FLAG_SETS) {
      const states = supportedStates(flags).filter((s) => s !== "ERROR");
      expect(Object.keys(paths[name]!).sort()).toEqual([...states].sort());
      for (const from of states) expect(Object.keys(paths[name]![from]!).sort()).toEqual([...states].sort());
      expect(JSON.stringify(paths[name])).not.toContain("ERROR");
    }
  });

  it("the walked paths are the VFIO core's next-state algorithm, arc by arc", () => {
    for (const { name, flags } of FLAG_SETS) {
      for (const [from, row] of Object.entries(paths[name]!)) {
        for (const [to, walked] of Object.entries(row)) {
          const expected = pathTo(flags, from as never, to as never);
          expect({ name, from, to, walked }).toEqual({ name, from, to, walked: expected.ok ? expected.path : "EINVAL" });
        }
      }
    }
  });

  it("shows the documented examples", () => {
    expect(paths["STOP_COPY,P2P"]!.STOP!.RUNNING).toEqual(["STOP", "RUNNING_P2P", "RUNNING"]);
    expect(paths["STOP_COPY"]!.RUNNING!.STOP).toEqual(["RUNNING", "STOP"]);
    expect(paths["STOP_COPY,PRE_COPY"]!.PRE_COPY!.STOP_COPY).toEqual(["PRE_COPY", "STOP_COPY"]);
    expect(paths["STOP_COPY,P2P,PRE_COPY"]!.STOP_COPY!.PRE_COPY).toBe("EINVAL");
    expect(paths["STOP_COPY,P2P,PRE_COPY"]!.RESUMING!.PRE_COPY_P2P).toEqual(["RESUMING", "STOP", "RUNNING_P2P", "PRE_COPY_P2P"]);
  });

  it("path prints one path for people, and refuses unknown states and flag sets in one line", () => {
    const one = runCli(["fsm", "path", "RUNNING", "STOP_COPY"]);
    expect(one.status).toBe(0);
    expect(one.stdout.trim()).toBe("RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY  (3 arcs, flags STOP_COPY,P2P,PRE_COPY)");
    const bad = runCli(["fsm", "path", "RUNNING", "NOWHERE"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(
      'vfio-workbench: unknown state "NOWHERE"; states: STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P (ERROR cannot be requested)\n',
    );
    // VFIO_DEVICE_STATE_NR counts the states; it is none of them
    const nr = runCli(["fsm", "path", "NR", "STOP"]);
    expect(nr.status).toBe(2);
    expect(nr.stderr).toMatch(/^vfio-workbench: unknown state "NR"; states: STOP, /);
    const flags = runCli(["fsm", "path", "RUNNING", "STOP", "--flags", "P2P"]);
    expect(flags.status).toBe(2);
    expect(flags.stderr.trim().split("\n")).toHaveLength(1);
  });
});
