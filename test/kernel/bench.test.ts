import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { kernelCell, Series } from "../../bench/kernel-cell.js";
import { newTcpConnection } from "../../kernel-lib/kernel/connection.js";
import { KernelError, KernelTimeoutError } from "../../kernel-lib/kernel/kernel-error.js";
import { requireBuild } from "./helpers.js";

describe("kernel-cell benchmark", () => {
  it("sets this kernel against stock tslab's kernel on three figures, with the floors beside them", async () => {
    requireBuild();
    const result = await kernelCell.run({ quick: true });
    expect(result.name).toBe("kernel-cell");
    expect(result.target).toBe("typical <= 1, startup <= 1, trivial <= 1.1");
    expect(result.ratio).toBe(result.typical_ratio);
    expect(result.ok).toBe(result.typical_ok && result.startup_ok && result.trivial_ok);
    for (const figure of ["typical", "trivial", "startup", "first_cell"]) {
      for (const side of ["ours", "stock"]) expect(result[`${figure}_${side}_ms`], `${figure}_${side}_ms`).toBeGreaterThan(0);
      expect(result[`${figure}_ratio`]).toBeCloseTo((result[`${figure}_ours_ms`] as number) / (result[`${figure}_stock_ms`] as number), 1);
    }
    // a peer that runs no code is faster than any kernel's cell
    expect(result.jupyter_floor_ms).toBeLessThan(result.trivial_stock_ms as number);
    expect(result.zeromq_floor_ms).toBeLessThan(result.jupyter_floor_ms as number);
    for (const key of ["skipped_ours", "skipped_stock", "skipped_floors"]) expect(Number.isInteger(result[key])).toBe(true);
  }, 120_000);
});

describe("a benchmark series", () => {
  it("skips a round whose messages never come, and keeps timing the next", async () => {
    const series = new Series(50);
    await series.time(() => Promise.reject(new KernelTimeoutError("no reply and idle status to execute_request within 50 ms")), true);
    await series.time(() => Promise.resolve(), true);
    expect(series.skipped).toBe(1);
    expect(series.samples).toHaveLength(1);
  });

  it("bounds a round by its fallback until enough rounds were timed, then by a multiple of their median", async () => {
    const series = new Series(1234);
    const bounds: number[] = [];
    for (let i = 0; i < 6; i++) await series.time(async (timeoutMs) => void bounds.push(timeoutMs), true);
    expect(bounds.slice(0, 5)).toEqual([1234, 1234, 1234, 1234, 1234]);
    expect(bounds[5]).toBeLessThan(1234);
  });

  it("lets any other failure through", async () => {
    const series = new Series(50);
    await expect(series.time(() => Promise.reject(new KernelError("the kernel exited (code 1)")), true)).rejects.toThrow(/exited/);
  });
});

const RANGE = "/proc/sys/net/ipv4/ip_local_port_range";

describe("loopback TCP connection info", () => {
  it("takes five distinct ports below the range the OS gives connecting sockets", async () => {
    const info = await newTcpConnection();
    const ports = [info.shell_port, info.iopub_port, info.stdin_port, info.control_port, info.hb_port];
    expect(new Set(ports).size).toBe(5);
    const range = existsSync(RANGE) ? Number(readFileSync(RANGE, "utf8").split(/\s+/)[0]) : 49152;
    for (const port of ports) expect(port).toBeLessThan(range);
    expect(info.transport).toBe("tcp");
    expect(info.ip).toBe("127.0.0.1");
  });
});
