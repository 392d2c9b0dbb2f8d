import { describe, expect, it } from "vitest";
import { IOCTL, VFIO_DMA_MAP_FLAG, VFIO_EXTENSION, vfio_iommu_type1_dma_map } from "../../hw-emu/uapi/index.js";
import { RID_A, dmaMachine, errnoOf, guestRam, intPtr } from "./fixtures/dma-machine.js";

const X = VFIO_EXTENSION;

function machine() {
  return dmaMachine([
    { name: "0000:01:00.0", groupId: 1, rid: RID_A },
    { name: "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", groupId: 2, pinned: true },
  ]);
}

describe("VFIO container", () => {
  it("answers GET_API_VERSION and CHECK_EXTENSION as Linux with type1 loaded", () => {
    const m = machine();
    const c = m.kernel.open("/dev/vfio/vfio");
    expect(m.kernel.ioctl(c, IOCTL.VFIO_GET_API_VERSION)).toBe(0);
    const ext = (e: number) => m.kernel.ioctl(c, IOCTL.VFIO_CHECK_EXTENSION, e);
    expect([X.VFIO_TYPE1_IOMMU, X.VFIO_TYPE1v2_IOMMU, X.VFIO_UNMAP_ALL].map(ext)).toEqual([1, 1, 1]);
    // before SET_IOMMU there is no container state to ask about
    expect([X.VFIO_UPDATE_VADDR, X.VFIO_DMA_CC_IOMMU, X.VFIO_SPAPR_TCE_IOMMU, X.VFIO_NOIOMMU_IOMMU, X.VFIO_EEH, 6, 1234].map(ext)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    const g = m.kernel.open("/dev/vfio/1");
    m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, X.VFIO_TYPE1v2_IOMMU);
    expect([X.VFIO_UPDATE_VADDR, X.VFIO_DMA_CC_IOMMU].map(ext)).toEqual([1, 1]);
    // an emulated-IOMMU group turns vaddr updates off
    const g2 = m.kernel.open("/dev/vfio/2");
    m.kernel.ioctl(g2, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    expect(ext(X.VFIO_UPDATE_VADDR)).toBe(0);
  });

  it("SET_IOMMU needs a group, a type the driver opens, and only once", () => {
    const m = machine();
    const c = m.kernel.open("/dev/vfio/vfio");
    expect(errnoOf(() => m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, X.VFIO_TYPE1v2_IOMMU))).toBe("EINVAL");
    const g = m.kernel.open("/dev/vfio/1");
    m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    expect(errnoOf(() => m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, X.VFIO_SPAPR_TCE_IOMMU))).toBe("ENODEV");
    expect(errnoOf(() => m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, X.VFIO_DMA_CC_IOMMU))).toBe("ENODEV");
    // type1 claims UNMAP_ALL as an extension but cannot be opened with it
    expect(errnoOf(() => m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, X.VFIO_UNMAP_ALL))).toBe("EINVAL");
    expect(m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, X.VFIO_TYPE1v2_IOMMU)).toBe(0);
    expect(errnoOf(() => m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, X.VFIO_TYPE1v2_IOMMU))).toBe("EINVAL");
    expect(m.iommu.domainOf(RID_A)).toBeDefined();
  });

  it("refuses backend ioctls before SET_IOMMU (EINVAL) and unknown ones after (ENOTTY)", () => {
    const m = machine();
    const c = m.kernel.open("/dev/vfio/vfio");
    expect(errnoOf(() => m.kernel.ioctl(c, IOCTL.VFIO_IOMMU_MAP_DMA, vfio_iommu_type1_dma_map.encode({})))).toBe("EINVAL");
    const g = m.kernel.open("/dev/vfio/1");
    m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, X.VFIO_TYPE1_IOMMU);
    expect(errnoOf(() => m.kernel.ioctl(c, IOCTL.VFIO_DEVICE_BIND_IOMMUFD, new Uint8Array(24)))).toBe("ENOTTY");
  });

  it("a group joining a container with an IOMMU is attached to it at once", () => {
    const m = dmaMachine([
      { name: "0000:01:00.0", groupId: 1, rid: RID_A },
      { name: "0000:02:00.0", groupId: 2, rid: RID_A + 8 },
    ]);
    const c = m.kernel.open("/dev/vfio/vfio");
    const g1 = m.kernel.open("/dev/vfio/1");
    m.kernel.ioctl(g1, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, X.VFIO_TYPE1v2_IOMMU);
    const g2 = m.kernel.open("/dev/vfio/2");
    m.kernel.ioctl(g2, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    // both groups sit behind the same IOMMU: one shared domain
    expect(m.iommu.domainOf(RID_A + 8)).toBe(m.iommu.domainOf(RID_A));
    expect(m.iommu.listDomains()).toHaveLength(1);
  });

  it("closing the container fd leaves its mappings in place while groups hold it", () => {
    const m = machine();
    const c = m.kernel.open("/dev/vfio/vfio");
    const g = m.kernel.open("/dev/vfio/1");
    m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, X.VFIO_TYPE1v2_IOMMU);
    const ram = guestRam(m.kernel, 0x4000);
    const F = VFIO_DMA_MAP_FLAG.bits;
    m.kernel.ioctl(c, IOCTL.VFIO_IOMMU_MAP_DMA, vfio_iommu_type1_dma_map.encode({ flags: F.READ | F.WRITE, vaddr: ram.addr, iova: 0x10_0000n, size: 0x4000n }));
    m.kernel.close(c);
    expect(m.dev["0000:01:00.0"]!.port!.write(0x10_1000, Uint8Array.of(0xaa))).toBe("ok");
    expect(ram.read(0x1000, 1)[0]).toBe(0xaa);
    m.kernel.close(g);
    expect(m.dev["0000:01:00.0"]!.port!.write(0x10_1000, Uint8Array.of(0xbb))).toBe("fault");
  });
});
