/**
 * Where the build machine has gcc and <linux/vfio.h>, compile a program that
 * prints the header's own sizeof/offsetof values and compare. The system header
 * may be older than 6.12, so a struct is compared only when its header defines
 * it in the same form (guards below); the suite passes without any of this.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STRUCTS } from "../../hw-emu/uapi/index.js";

const header = "/usr/include/linux/vfio.h";
const hasGcc = spawnSync("gcc", ["--version"]).status === 0;
const available = hasGcc && existsSync(header);

/** Structs whose layout changed after they first appeared: compare only when the header is new enough. */
const GUARDS: Record<string, string> = {
  vfio_precopy_info: "defined(VFIO_MIG_GET_PRECOPY_INFO)",
  vfio_device_feature_mig_data_size: "defined(VFIO_DEVICE_FEATURE_MIG_DATA_SIZE)",
  vfio_device_feature_dma_logging_control: "defined(VFIO_DEVICE_FEATURE_DMA_LOGGING_START)",
  vfio_device_feature_dma_logging_range: "defined(VFIO_DEVICE_FEATURE_DMA_LOGGING_START)",
  vfio_device_feature_dma_logging_report: "defined(VFIO_DEVICE_FEATURE_DMA_LOGGING_START)",
  vfio_device_feature_bus_master: "defined(VFIO_DEVICE_FEATURE_BUS_MASTER)",
  vfio_device_info_cap_pci_atomic_comp: "defined(VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP)",
  vfio_device_bind_iommufd: "defined(VFIO_DEVICE_BIND_FLAG_TOKEN)",
  vfio_device_attach_iommufd_pt: "defined(VFIO_DEVICE_ATTACH_PASID)",
  vfio_device_detach_iommufd_pt: "defined(VFIO_DEVICE_DETACH_PASID)",
  vfio_device_low_power_entry_with_wakeup: "defined(VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP)",
};

describe.skipIf(!available)(`layouts against the system's ${header}`, () => {
  it("sizeof and offsetof agree for every vfio.h struct the header defines", () => {
    const vfioStructs = Object.values(STRUCTS).filter((d) => d.name.startsWith("vfio_"));
    const lines: string[] = ["#include <stdio.h>", "#include <stddef.h>", "#include <linux/vfio.h>", "int main(void) {"];
    for (const d of vfioStructs) {
      const guard = GUARDS[d.name] ?? "1";
      lines.push(`#if ${guard}`);
      lines.push(`  printf("%s @sizeof %zu\\n", "${d.name}", sizeof(struct ${d.name}));`);
      // trailing `pad` members were named only in later headers; sizeof still covers them
      for (const f of d.fields.filter((x) => x.name !== "pad")) {
        lines.push(`  printf("%s %s %zu\\n", "${d.name}", "${f.name}", offsetof(struct ${d.name}, ${f.name}));`);
      }
      lines.push("#endif");
    }
    lines.push("return 0; }");
    const dir = mkdtempSync(join(tmpdir(), "vfio-abi-"));
    writeFileSync(join(dir, "abi.c"), lines.join("\n"));
    execFileSync("gcc", ["-o", join(dir, "abi"), join(dir, "abi.c")]);
    const out = execFileSync(join(dir, "abi"), { encoding: "utf8" }).trim().split("\n");
    expect(out.length).toBeGreaterThan(50);
    for (const line of out) {
      const [name, field, value] = line.split(" ") as [string, string, string];
      const def = STRUCTS[name]!;
      // before the explicit `pad` member, sizeof(struct vfio_device_info) was 20 (no 8-byte member to round to)
      if (field === "@sizeof" && name === "vfio_device_info" && value === "20") continue;
      if (field === "@sizeof") expect({ name, size: def.size }).toEqual({ name, size: Number(value) });
      else expect({ name, field, offset: def.fields.find((f) => f.name === field)!.offset }).toEqual({ name, field, offset: Number(value) });
    }
  });
});
