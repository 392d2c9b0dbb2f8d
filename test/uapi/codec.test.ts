import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Errno,
  STRUCTS,
  UapiDecodeError,
  UapiEncodeError,
  VFIO_IRQ_SET,
  VFIO_REGION_INFO_CAP,
  annotate,
  defineStruct,
  buildCapChain,
  copyInArgsz,
  copyInSize,
  describeFlags,
  iommu_hwpt_alloc,
  iommu_ioas_map,
  parseCapChain,
  unknownFlagBits,
  vfio_device_feature,
  vfio_device_feature_mig_state,
  vfio_irq_set,
  vfio_region_info,
  vfio_region_info_cap_type,
  type StructDef,
} from "../../hw-emu/uapi/index.js";

function arbitraryValue(def: StructDef<Record<string, unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of def.fields) {
    switch (f.type) {
      case "u8":
        shape[f.name] = fc.integer({ min: 0, max: 0xff });
        break;
      case "u16":
        shape[f.name] = fc.integer({ min: 0, max: 0xffff });
        break;
      case "u32":
        shape[f.name] = fc.integer({ min: 0, max: 0xffff_ffff });
        break;
      case "s32":
        shape[f.name] = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
        break;
      case "u64":
      case "ptr":
        shape[f.name] = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
        break;
      case "bytes":
        shape[f.name] = fc.uint8Array({ minLength: f.size, maxLength: f.size });
        break;
    }
  }
  return fc.record(shape);
}

describe("struct codecs", () => {
  for (const def of Object.values(STRUCTS)) {
    it(`${def.name}: decode(encode(v)) == v for random values (seeded)`, () => {
      fc.assert(
        fc.property(arbitraryValue(def), (v) => {
          const bytes = def.encode(v);
          expect(bytes.byteLength).toBe(def.size);
          expect(def.decode(bytes)).toEqual(v);
          // and encode(decode(b)) reproduces the bytes, padding aside
          expect(def.encode(def.decode(bytes))).toEqual(bytes);
        }),
        { seed: 0x5eed, numRuns: 50 },
      );
    });
  }

  it("64-bit fields keep values above 2^53 exactly", () => {
    const iova = (1n << 63n) + 12345n;
    const v = iommu_ioas_map.decode(iommu_ioas_map.encode({ iova, length: 0xffff_ffff_ffff_f000n }));
    expect(v.iova).toBe(iova);
    expect(v.length).toBe(0xffff_ffff_ffff_f000n);
  });

  it("a short buffer names the struct and the bytes it needs", () => {
    expect(() => vfio_region_info.decode(new Uint8Array(16))).toThrowError(UapiDecodeError);
    expect(() => vfio_region_info.decode(new Uint8Array(16))).toThrowError("struct vfio_region_info: need 32 bytes to decode, got 16");
  });

  it("fills the size field with the struct's size unless told otherwise", () => {
    expect(vfio_region_info.decode(vfio_region_info.encode({ index: 7 })).argsz).toBe(32);
    expect(iommu_hwpt_alloc.decode(iommu_hwpt_alloc.encode()).size).toBe(48);
    expect(vfio_irq_set.decode(vfio_irq_set.encode({ count: 2 }, { totalSize: 28 })).argsz).toBe(28);
  });

  it("refuses values that do not fit and fields that do not exist", () => {
    expect(() => vfio_region_info.encode({ index: -1 })).toThrowError(UapiEncodeError);
    expect(() => vfio_region_info.encode({ index: 2 ** 32 })).toThrowError(/does not fit u32/);
    expect(() => vfio_device_feature_mig_state.encode({ data_fd: 2 ** 31 })).toThrowError(/does not fit s32/);
    expect(() => vfio_region_info.encode({ bogus: 1 } as never)).toThrowError(/has no field bogus/);
  });

  it("names known flag bits and reports an unknown one by struct, field and bit", () => {
    expect(describeFlags(VFIO_IRQ_SET, 0x24)).toEqual({ names: ["DATA_EVENTFD", "ACTION_TRIGGER"], unknown: 0n });
    expect(unknownFlagBits("vfio_irq_set", "flags", VFIO_IRQ_SET, 0x24)).toBeNull();
    expect(unknownFlagBits("vfio_irq_set", "flags", VFIO_IRQ_SET, 0x64)).toBe("vfio_irq_set.flags: unknown VFIO_IRQ_SET flag bit 6 (0x40)");
    const a = annotate(vfio_irq_set, vfio_irq_set.encode({ flags: 0x64 }));
    expect(a.fields.find((f) => f.name === "flags")!.meaning).toBe("DATA_EVENTFD | ACTION_TRIGGER | unknown 0x40");
  });

  it("names vfio_device_feature.flags as the feature index under VFIO_DEVICE_FEATURE_MASK plus GET/SET/PROBE", () => {
    const meaning = (flags: number) => annotate(vfio_device_feature, vfio_device_feature.encode({ argsz: 8, flags })).fields.find((f) => f.name === "flags")!.meaning;
    expect(meaning(0x20002)).toBe("MIG_DEVICE_STATE | SET");
    expect(meaning(0x50001)).toBe("MIGRATION | GET | PROBE");
    expect(meaning(0x10009)).toBe("MIG_DATA_SIZE | GET");
    expect(meaning(0x90002)).toBe("MIG_DEVICE_STATE | GET | unknown 0x80000");
    expect(meaning(0x1ff)).toBe("unknown VFIO_DEVICE_FEATURE 511");
    expect(() => defineStruct("bad", [["f", "u32", { enumMask: 0xff }]])).toThrowError(/enumMask but not both enumSet and flags/);
  });
});

describe("the kernel's copy-in rules", () => {
  it("VFIO argsz: below minsz is EINVAL, a shorter buffer than minsz is EFAULT, extra is ignored", () => {
    const small = vfio_region_info.encode({ argsz: 16 });
    expect(() => copyInArgsz(vfio_region_info, small, "VFIO_DEVICE_GET_REGION_INFO")).toThrowError(Errno);
    try {
      copyInArgsz(vfio_region_info, small, "VFIO_DEVICE_GET_REGION_INFO");
    } catch (e) {
      expect((e as Errno).code).toBe("EINVAL");
      expect((e as Errno).errno).toBe(22);
    }
    expect(() => copyInArgsz(vfio_region_info, new Uint8Array(8), "x")).toThrowError(/EFAULT/);
    const big = vfio_region_info.encode({ argsz: 64, index: 3 }, { totalSize: 64 });
    big[40] = 0xff;
    expect(copyInArgsz(vfio_region_info, big, "x").value.index).toBe(3);
  });

  it("iommufd size: below minimum EINVAL, non-zero bytes past the struct E2BIG, zeroed extra accepted", () => {
    const ok = iommu_hwpt_alloc.encode({ flags: 2 }, { totalSize: 64 });
    expect(copyInSize(iommu_hwpt_alloc, ok, "IOMMU_HWPT_ALLOC").value.flags).toBe(2);
    ok[60] = 1;
    expect(() => copyInSize(iommu_hwpt_alloc, ok, "IOMMU_HWPT_ALLOC")).toThrowError(/E2BIG/);
    expect(() => copyInSize(iommu_hwpt_alloc, iommu_hwpt_alloc.encode({ size: 20 }), "IOMMU_HWPT_ALLOC")).toThrowError(/EINVAL/);
    // an older, shorter struct (down to the minimum) is read with the missing fields as zero
    const old = iommu_hwpt_alloc.encode({ size: 24, dev_id: 5, fault_id: 9 }).subarray(0, 24);
    const v = copyInSize(iommu_hwpt_alloc, old, "IOMMU_HWPT_ALLOC").value;
    expect(v.dev_id).toBe(5);
    expect(v.fault_id).toBe(0);
  });
});

describe("capability chains", () => {
  it("lays caps out after the fixed struct, links them, and parses them back", () => {
    const typeCap = vfio_region_info_cap_type.encode({ type: 3, subtype: 1 }).subarray(8);
    const chain = buildCapChain(vfio_region_info.size, [
      { id: VFIO_REGION_INFO_CAP.values.TYPE, version: 1, body: typeCap },
      { id: VFIO_REGION_INFO_CAP.values.MSIX_MAPPABLE, version: 1, body: new Uint8Array(0) },
    ]);
    expect(chain.firstOffset).toBe(32);
    expect(chain.totalSize).toBe(32 + 16 + 8);
    const info = new Uint8Array(chain.totalSize);
    info.set(vfio_region_info.encode({ argsz: chain.totalSize, cap_offset: chain.firstOffset }));
    info.set(chain.bytes, 32);
    const caps = parseCapChain(info, vfio_region_info.decode(info).cap_offset);
    expect(caps.map((c) => [c.id, c.offset])).toEqual([
      [2, 32],
      [3, 48],
    ]);
    expect(vfio_region_info_cap_type.decode(info, 32)).toMatchObject({ type: 3, subtype: 1, "header.next": 48 });
  });

  it("refuses a chain that loops", () => {
    const info = new Uint8Array(48);
    const view = new DataView(info.buffer);
    view.setUint16(32, 1, true);
    view.setUint32(36, 32, true); // next points at itself
    expect(() => parseCapChain(info, 32)).toThrowError(/loops/);
  });
});
