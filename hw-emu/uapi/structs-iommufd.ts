/** Struct layouts of include/uapi/linux/iommufd.h (x86-64). The minimum sizes are the kernel's. */
import {
  IOMMU_HW_CAP,
  IOMMU_HW_INFO_TYPE,
  IOMMU_HWPT_ALLOC_FLAG,
  IOMMU_HWPT_DATA,
  IOMMU_HWPT_DIRTY_TRACKING,
  IOMMU_HWPT_GET_DIRTY_BITMAP,
  IOMMU_IOAS_MAP_FLAG,
  IOMMU_OPTION_ID,
  IOMMU_OPTION_OP,
  IOMMU_VFIO_IOAS_OP,
} from "./constants.js";
import { defineStruct } from "./struct.js";

export const iommu_destroy = defineStruct(
  "iommu_destroy",
  [
    ["size", "u32"],
    ["id", "u32"],
  ],
  { sizeRule: "size" },
);

export const iommu_ioas_alloc = defineStruct(
  "iommu_ioas_alloc",
  [
    ["size", "u32"],
    ["flags", "u32"],
    ["out_ioas_id", "u32"],
  ],
  { sizeRule: "size" },
);

export const iommu_iova_range = defineStruct("iommu_iova_range", [
  ["start", "u64"],
  ["last", "u64"],
]);

export const iommu_ioas_iova_ranges = defineStruct(
  "iommu_ioas_iova_ranges",
  [
    ["size", "u32"],
    ["ioas_id", "u32"],
    ["num_iovas", "u32"],
    ["__reserved", "u32"],
    ["allowed_iovas", "ptr"],
    ["out_iova_alignment", "u64"],
  ],
  { sizeRule: "size" },
);

export const iommu_ioas_allow_iovas = defineStruct(
  "iommu_ioas_allow_iovas",
  [
    ["size", "u32"],
    ["ioas_id", "u32"],
    ["num_iovas", "u32"],
    ["__reserved", "u32"],
    ["allowed_iovas", "ptr"],
  ],
  { sizeRule: "size" },
);

export const iommu_ioas_map = defineStruct(
  "iommu_ioas_map",
  [
    ["size", "u32"],
    ["flags", "u32", { flags: IOMMU_IOAS_MAP_FLAG }],
    ["ioas_id", "u32"],
    ["__reserved", "u32"],
    ["user_va", "ptr"],
    ["length", "u64"],
    ["iova", "u64"],
  ],
  { sizeRule: "size" },
);

export const iommu_ioas_copy = defineStruct(
  "iommu_ioas_copy",
  [
    ["size", "u32"],
    ["flags", "u32", { flags: IOMMU_IOAS_MAP_FLAG }],
    ["dst_ioas_id", "u32"],
    ["src_ioas_id", "u32"],
    ["length", "u64"],
    ["dst_iova", "u64"],
    ["src_iova", "u64"],
  ],
  { sizeRule: "size" },
);

export const iommu_ioas_unmap = defineStruct(
  "iommu_ioas_unmap",
  [
    ["size", "u32"],
    ["ioas_id", "u32"],
    ["iova", "u64"],
    ["length", "u64"],
  ],
  { sizeRule: "size" },
);

export const iommu_option = defineStruct(
  "iommu_option",
  [
    ["size", "u32"],
    ["option_id", "u32", { enumSet: IOMMU_OPTION_ID }],
    ["op", "u16", { enumSet: IOMMU_OPTION_OP }],
    ["__reserved", "u16"],
    ["object_id", "u32"],
    ["val64", "u64"],
  ],
  { sizeRule: "size" },
);

export const iommu_vfio_ioas = defineStruct(
  "iommu_vfio_ioas",
  [
    ["size", "u32"],
    ["ioas_id", "u32"],
    ["op", "u16", { enumSet: IOMMU_VFIO_IOAS_OP }],
    ["__reserved", "u16"],
  ],
  { sizeRule: "size" },
);

export const iommu_hwpt_alloc = defineStruct(
  "iommu_hwpt_alloc",
  [
    ["size", "u32"],
    ["flags", "u32", { flags: IOMMU_HWPT_ALLOC_FLAG }],
    ["dev_id", "u32"],
    ["pt_id", "u32"],
    ["out_hwpt_id", "u32"],
    ["__reserved", "u32"],
    ["data_type", "u32", { enumSet: IOMMU_HWPT_DATA }],
    ["data_len", "u32"],
    ["data_uptr", "ptr"],
    ["fault_id", "u32"],
    ["__reserved2", "u32"],
  ],
  { sizeRule: "size", minsz: { through: "__reserved" } },
);

export const iommu_hw_info = defineStruct(
  "iommu_hw_info",
  [
    ["size", "u32"],
    ["flags", "u32"],
    ["dev_id", "u32"],
    ["data_len", "u32"],
    ["data_uptr", "ptr"],
    ["out_data_type", "u32", { enumSet: IOMMU_HW_INFO_TYPE }],
    ["__reserved", "u32"],
    ["out_capabilities", "u64", { flags: IOMMU_HW_CAP }],
  ],
  { sizeRule: "size", minsz: { through: "__reserved" } },
);

export const iommu_hwpt_set_dirty_tracking = defineStruct(
  "iommu_hwpt_set_dirty_tracking",
  [
    ["size", "u32"],
    ["flags", "u32", { flags: IOMMU_HWPT_DIRTY_TRACKING }],
    ["hwpt_id", "u32"],
    ["__reserved", "u32"],
  ],
  { sizeRule: "size" },
);

export const iommu_hwpt_get_dirty_bitmap = defineStruct(
  "iommu_hwpt_get_dirty_bitmap",
  [
    ["size", "u32"],
    ["hwpt_id", "u32"],
    ["flags", "u32", { flags: IOMMU_HWPT_GET_DIRTY_BITMAP }],
    ["__reserved", "u32"],
    ["iova", "u64"],
    ["length", "u64"],
    ["page_size", "u64"],
    ["data", "ptr"],
  ],
  { sizeRule: "size" },
);
