/** Struct layouts of include/uapi/linux/vfio.h (x86-64). */
import {
  VFIO_DEVICE_ATTACH,
  VFIO_DEVICE_BIND_FLAG,
  VFIO_DEVICE_DETACH,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_FLAG,
  VFIO_DEVICE_FLAGS,
  VFIO_DEVICE_STATE,
  VFIO_DMA_MAP_FLAG,
  VFIO_DMA_UNMAP_FLAG,
  VFIO_GROUP_FLAGS,
  VFIO_IOMMU_DIRTY_PAGES_FLAG,
  VFIO_IOMMU_INFO,
  VFIO_IRQ_INFO,
  VFIO_IRQ_SET,
  VFIO_MIGRATION,
  VFIO_REGION_INFO_FLAG,
} from "./constants.js";
import { defineStruct } from "./struct.js";

const capHeader = [
  ["header.id", "u16"],
  ["header.version", "u16"],
  ["header.next", "u32"],
] as const;

export const vfio_info_cap_header = defineStruct("vfio_info_cap_header", [
  ["id", "u16"],
  ["version", "u16"],
  ["next", "u32"],
]);

export const vfio_group_status = defineStruct(
  "vfio_group_status",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_GROUP_FLAGS }],
  ],
  { sizeRule: "argsz" },
);

export const vfio_device_info = defineStruct(
  "vfio_device_info",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_DEVICE_FLAGS }],
    ["num_regions", "u32"],
    ["num_irqs", "u32"],
    ["cap_offset", "u32"],
    ["pad", "u32"],
  ],
  { sizeRule: "argsz", minsz: { through: "num_irqs" } },
);

export const vfio_device_info_cap_pci_atomic_comp = defineStruct("vfio_device_info_cap_pci_atomic_comp", [
  ...capHeader,
  ["flags", "u32"],
  ["reserved", "u32"],
]);

export const vfio_region_info = defineStruct(
  "vfio_region_info",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_REGION_INFO_FLAG }],
    ["index", "u32"],
    ["cap_offset", "u32"],
    ["size", "u64"],
    ["offset", "u64"],
  ],
  { sizeRule: "argsz" },
);

export const vfio_region_sparse_mmap_area = defineStruct("vfio_region_sparse_mmap_area", [
  ["offset", "u64"],
  ["size", "u64"],
]);

export const vfio_region_info_cap_sparse_mmap = defineStruct(
  "vfio_region_info_cap_sparse_mmap",
  [...capHeader, ["nr_areas", "u32"], ["reserved", "u32"]],
  { flexible: { name: "areas", element: vfio_region_sparse_mmap_area } },
);

export const vfio_region_info_cap_type = defineStruct("vfio_region_info_cap_type", [
  ...capHeader,
  ["type", "u32"],
  ["subtype", "u32"],
]);

/** The v1 migration region's header, at offset 0 of the region (removed from Linux in 5.18). */
export const vfio_device_migration_info = defineStruct("vfio_device_migration_info", [
  ["device_state", "u32"],
  ["reserved", "u32"],
  ["pending_bytes", "u64"],
  ["data_offset", "u64"],
  ["data_size", "u64"],
]);

export const vfio_irq_info = defineStruct(
  "vfio_irq_info",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_IRQ_INFO }],
    ["index", "u32"],
    ["count", "u32"],
  ],
  { sizeRule: "argsz" },
);

export const vfio_irq_set = defineStruct(
  "vfio_irq_set",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_IRQ_SET }],
    ["index", "u32"],
    ["start", "u32"],
    ["count", "u32"],
  ],
  { sizeRule: "argsz", flexible: { name: "data", element: "u8" } },
);

export const vfio_device_feature = defineStruct(
  "vfio_device_feature",
  [
    ["argsz", "u32"],
    // the feature index in the low 16 bits (VFIO_DEVICE_FEATURE_MASK), GET/SET/PROBE above
    ["flags", "u32", { flags: VFIO_DEVICE_FEATURE_FLAG, enumSet: VFIO_DEVICE_FEATURE, enumMask: 0xffff }],
  ],
  { sizeRule: "argsz", flexible: { name: "data", element: "u8" } },
);

export const vfio_device_feature_migration = defineStruct("vfio_device_feature_migration", [
  ["flags", "u64", { flags: VFIO_MIGRATION }],
]);

export const vfio_device_feature_mig_state = defineStruct("vfio_device_feature_mig_state", [
  ["device_state", "u32", { enumSet: VFIO_DEVICE_STATE }],
  ["data_fd", "s32"],
]);

export const vfio_precopy_info = defineStruct(
  "vfio_precopy_info",
  [
    ["argsz", "u32"],
    ["flags", "u32"],
    ["initial_bytes", "u64"],
    ["dirty_bytes", "u64"],
  ],
  { sizeRule: "argsz" },
);

export const vfio_device_low_power_entry_with_wakeup = defineStruct("vfio_device_low_power_entry_with_wakeup", [
  ["wakeup_eventfd", "s32"],
  ["reserved", "u32"],
]);

export const vfio_device_feature_dma_logging_control = defineStruct("vfio_device_feature_dma_logging_control", [
  ["page_size", "u64"],
  ["num_ranges", "u32"],
  ["__reserved", "u32"],
  ["ranges", "ptr"],
]);

export const vfio_device_feature_dma_logging_range = defineStruct("vfio_device_feature_dma_logging_range", [
  ["iova", "u64"],
  ["length", "u64"],
]);

export const vfio_device_feature_dma_logging_report = defineStruct("vfio_device_feature_dma_logging_report", [
  ["iova", "u64"],
  ["length", "u64"],
  ["page_size", "u64"],
  ["bitmap", "ptr"],
]);

export const vfio_device_feature_mig_data_size = defineStruct("vfio_device_feature_mig_data_size", [["stop_copy_length", "u64"]]);

export const vfio_device_feature_bus_master = defineStruct("vfio_device_feature_bus_master", [["op", "u32"]]);

export const vfio_device_bind_iommufd = defineStruct(
  "vfio_device_bind_iommufd",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_DEVICE_BIND_FLAG }],
    ["iommufd", "s32"],
    ["out_devid", "u32"],
    ["token_uuid_ptr", "ptr"],
  ],
  // token_uuid_ptr came later (with VFIO_DEVICE_BIND_FLAG_TOKEN); the 16-byte form is still accepted
  { sizeRule: "argsz", minsz: { through: "out_devid" } },
);

export const vfio_device_attach_iommufd_pt = defineStruct(
  "vfio_device_attach_iommufd_pt",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_DEVICE_ATTACH }],
    ["pt_id", "u32"],
    ["pasid", "u32"],
  ],
  { sizeRule: "argsz", minsz: { through: "pt_id" } },
);

export const vfio_device_detach_iommufd_pt = defineStruct(
  "vfio_device_detach_iommufd_pt",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_DEVICE_DETACH }],
    ["pasid", "u32"],
  ],
  { sizeRule: "argsz", minsz: { through: "flags" } },
);

export const vfio_iommu_type1_info = defineStruct(
  "vfio_iommu_type1_info",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_IOMMU_INFO }],
    ["iova_pgsizes", "u64"],
    ["cap_offset", "u32"],
    ["pad", "u32"],
  ],
  { sizeRule: "argsz", minsz: { through: "iova_pgsizes" } },
);

export const vfio_iova_range = defineStruct("vfio_iova_range", [
  ["start", "u64"],
  ["end", "u64"],
]);

export const vfio_iommu_type1_info_cap_iova_range = defineStruct(
  "vfio_iommu_type1_info_cap_iova_range",
  [...capHeader, ["nr_iovas", "u32"], ["reserved", "u32"]],
  { flexible: { name: "iova_ranges", element: vfio_iova_range } },
);

export const vfio_iommu_type1_info_cap_migration = defineStruct("vfio_iommu_type1_info_cap_migration", [
  ...capHeader,
  ["flags", "u32"],
  ["pgsize_bitmap", "u64"],
  ["max_dirty_bitmap_size", "u64"],
]);

export const vfio_iommu_type1_info_dma_avail = defineStruct("vfio_iommu_type1_info_dma_avail", [...capHeader, ["avail", "u32"]]);

export const vfio_iommu_type1_dma_map = defineStruct(
  "vfio_iommu_type1_dma_map",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_DMA_MAP_FLAG }],
    ["vaddr", "ptr"],
    ["iova", "u64"],
    ["size", "u64"],
  ],
  { sizeRule: "argsz" },
);

export const vfio_bitmap = defineStruct("vfio_bitmap", [
  ["pgsize", "u64"],
  ["size", "u64"],
  ["data", "ptr"],
]);

export const vfio_iommu_type1_dma_unmap = defineStruct(
  "vfio_iommu_type1_dma_unmap",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_DMA_UNMAP_FLAG }],
    ["iova", "u64"],
    ["size", "u64"],
  ],
  { sizeRule: "argsz", flexible: { name: "data", element: "u8" } },
);

export const vfio_iommu_type1_dirty_bitmap = defineStruct(
  "vfio_iommu_type1_dirty_bitmap",
  [
    ["argsz", "u32"],
    ["flags", "u32", { flags: VFIO_IOMMU_DIRTY_PAGES_FLAG }],
  ],
  { sizeRule: "argsz", flexible: { name: "data", element: "u8" } },
);

export const vfio_iommu_type1_dirty_bitmap_get = defineStruct("vfio_iommu_type1_dirty_bitmap_get", [
  ["iova", "u64"],
  ["size", "u64"],
  ["bitmap.pgsize", "u64"],
  ["bitmap.size", "u64"],
  ["bitmap.data", "ptr"],
]);
