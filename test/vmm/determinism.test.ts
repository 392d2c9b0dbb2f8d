import { describe, expect, it } from "vitest";
import { SimulatedVm, migrate, type MigrateOptions } from "../../kernel-lib/vmm/index.js";

async function once(seed: number, o: MigrateOptions = {}) {
  const vm = new SimulatedVm({ memory: "32MiB", seed, devices: [{ model: "nic" }, { model: "accel" }, { model: "nic" }], workload: { p2pPerSecond: 20_000 } });
  vm.run(8e6);
  return migrate(vm, { bandwidth: 256 * 2 ** 20, ...o });
}

describe("determinism", () => {
  it("the same seed gives the same timeline, byte for byte", async () => {
    const a = await once(7, { stop: "one-step", tracking: "merged" });
    const b = await once(7, { stop: "one-step", tracking: "merged" });
    expect(JSON.stringify(a.timeline)).toBe(JSON.stringify(b.timeline));
    const plain = (r: typeof a) => JSON.stringify(r, (_k, v) => (v instanceof Uint32Array ? Array.from(v) : v));
    expect(plain(a)).toBe(plain(b));
  });

  it("another seed gives another run", async () => {
    const a = await once(7);
    const b = await once(8);
    expect(JSON.stringify(a.timeline)).not.toBe(JSON.stringify(b.timeline));
  });
});
