/**
 * Constants of include/uapi/linux/vfio.h and iommufd.h (Linux 6.12; later
 * compatible additions are marked where they appear). Each group carries its
 * kernel prefix, so `VFIO_REGION_INFO_FLAG.bits.MMAP` is the kernel's
 * VFIO_REGION_INFO_FLAG_MMAP, and `constantTable()` lists every kernel name.
 */
import { defineEnum, defineFlags, type EnumSet, type FlagSet } from "./struct.js";

interface Group {
  /** kernel name = prefix + "_" + key */
  prefix: string;
  values: Record<string, number>;
}

const groups: Group[] = [];

function flags<const B extends Record<string, number>>(prefix: string, bits: B): FlagSet & { bits: B } {
  groups.push({ prefix, values: bits });
  return defineFlags(prefix, bits) as FlagSet & { bits: B };
}

function enumeration<const V extends Record<string, number>>(prefix: string, values: V): EnumSet & { values: V } {
  groups.push({ prefix, values });
  return defineEnum(prefix, values) as EnumSet & { values: V };
}

function plain<const V extends Record<string, number>>(values: V): V {
  groups.push({ prefix: "", values });
  return values;
}

// ---- VFIO: API, extensions, groups --------------------------------------------------------

export const VFIO = plain({
  VFIO_API_VERSION: 0,
  VFIO_TYPE: 0x3b, // ';'
  VFIO_BASE: 100,
});

/** Extension ids for VFIO_CHECK_EXTENSION and VFIO_SET_IOMMU. */
export const VFIO_EXTENSION = plain({
  VFIO_TYPE1_IOMMU: 1,
  VFIO_SPAPR_TCE_IOMMU: 2,
  VFIO_TYPE1v2_IOMMU: 3,
  VFIO_DMA_CC_IOMMU: 4,
  VFIO_EEH: 5,
  VFIO_SPAPR_TCE_v2_IOMMU: 7,
  VFIO_NOIOMMU_IOMMU: 8,
  VFIO_UNMAP_ALL: 9,
  VFIO_UPDATE_VADDR: 10,
});

export const VFIO_GROUP_FLAGS = flags("VFIO_GROUP_FLAGS", { VIABLE: 1 << 0, CONTAINER_SET: 1 << 1 });

// ---- VFIO: device info, regions, capabilities ----------------------------------------------

export const VFIO_DEVICE_FLAGS = flags("VFIO_DEVICE_FLAGS", {
  RESET: 1 << 0,
  PCI: 1 << 1,
  PLATFORM: 1 << 2,
  AMBA: 1 << 3,
  CCW: 1 << 4,
  AP: 1 << 5,
  FSL_MC: 1 << 6,
  CAPS: 1 << 7,
  CDX: 1 << 8,
});

export const VFIO_DEVICE_INFO_CAP = enumeration("VFIO_DEVICE_INFO_CAP", {
  ZPCI_BASE: 1,
  ZPCI_GROUP: 2,
  ZPCI_UTIL: 3,
  ZPCI_PFIP: 4,
  PCI_ATOMIC_COMP: 5,
});

export const VFIO_REGION_INFO_FLAG = flags("VFIO_REGION_INFO_FLAG", { READ: 1 << 0, WRITE: 1 << 1, MMAP: 1 << 2, CAPS: 1 << 3 });

export const VFIO_REGION_INFO_CAP = enumeration("VFIO_REGION_INFO_CAP", {
  SPARSE_MMAP: 1,
  TYPE: 2,
  MSIX_MAPPABLE: 3,
  NVLINK2_SSATGT: 4,
  NVLINK2_LNKSPD: 5,
});

export const VFIO_REGION_TYPE = enumeration("VFIO_REGION_TYPE", {
  PCI_VENDOR_TYPE: 0x8000_0000,
  PCI_VENDOR_MASK: 0xffff,
  GFX: 1,
  CCW: 2,
  MIGRATION_DEPRECATED: 3,
});

export const VFIO_REGION_SUBTYPE = enumeration("VFIO_REGION_SUBTYPE", {
  INTEL_IGD_OPREGION: 1,
  INTEL_IGD_HOST_CFG: 2,
  INTEL_IGD_LPC_CFG: 3,
  GFX_EDID: 1,
  CCW_ASYNC_CMD: 1,
  CCW_SCHIB: 2,
  CCW_CRW: 3,
  MIGRATION_DEPRECATED: 1,
});

/** vfio-pci's fixed region indexes. */
export const VFIO_PCI_REGION = plain({
  VFIO_PCI_BAR0_REGION_INDEX: 0,
  VFIO_PCI_BAR1_REGION_INDEX: 1,
  VFIO_PCI_BAR2_REGION_INDEX: 2,
  VFIO_PCI_BAR3_REGION_INDEX: 3,
  VFIO_PCI_BAR4_REGION_INDEX: 4,
  VFIO_PCI_BAR5_REGION_INDEX: 5,
  VFIO_PCI_ROM_REGION_INDEX: 6,
  VFIO_PCI_CONFIG_REGION_INDEX: 7,
  VFIO_PCI_VGA_REGION_INDEX: 8,
  VFIO_PCI_NUM_REGIONS: 9,
});

// ---- VFIO: interrupts -----------------------------------------------------------------------

export const VFIO_IRQ_INFO = flags("VFIO_IRQ_INFO", { EVENTFD: 1 << 0, MASKABLE: 1 << 1, AUTOMASKED: 1 << 2, NORESIZE: 1 << 3 });

export const VFIO_IRQ_SET = flags("VFIO_IRQ_SET", {
  DATA_NONE: 1 << 0,
  DATA_BOOL: 1 << 1,
  DATA_EVENTFD: 1 << 2,
  ACTION_MASK: 1 << 3,
  ACTION_UNMASK: 1 << 4,
  ACTION_TRIGGER: 1 << 5,
});

export const VFIO_IRQ_SET_MASKS = plain({
  VFIO_IRQ_SET_DATA_TYPE_MASK: 0x07,
  VFIO_IRQ_SET_ACTION_TYPE_MASK: 0x38,
});

export const VFIO_PCI_IRQ = plain({
  VFIO_PCI_INTX_IRQ_INDEX: 0,
  VFIO_PCI_MSI_IRQ_INDEX: 1,
  VFIO_PCI_MSIX_IRQ_INDEX: 2,
  VFIO_PCI_ERR_IRQ_INDEX: 3,
  VFIO_PCI_REQ_IRQ_INDEX: 4,
  VFIO_PCI_NUM_IRQS: 5,
});

// ---- VFIO: device features and migration ----------------------------------------------------

/** Bits of vfio_device_feature.flags around the 16-bit feature index. */
export const VFIO_DEVICE_FEATURE_FLAG = flags("VFIO_DEVICE_FEATURE", {
  GET: 1 << 16,
  SET: 1 << 17,
  PROBE: 1 << 18,
});
export const VFIO_DEVICE_FEATURE_MASK = plain({ VFIO_DEVICE_FEATURE_MASK: 0xffff }).VFIO_DEVICE_FEATURE_MASK;

/** Feature indexes. */
export const VFIO_DEVICE_FEATURE = enumeration("VFIO_DEVICE_FEATURE", {
  PCI_VF_TOKEN: 0,
  MIGRATION: 1,
  MIG_DEVICE_STATE: 2,
  LOW_POWER_ENTRY: 3,
  LOW_POWER_ENTRY_WITH_WAKEUP: 4,
  LOW_POWER_EXIT: 5,
  DMA_LOGGING_START: 6,
  DMA_LOGGING_STOP: 7,
  DMA_LOGGING_REPORT: 8,
  MIG_DATA_SIZE: 9,
  BUS_MASTER: 10,
});

export const VFIO_MIGRATION = flags("VFIO_MIGRATION", { STOP_COPY: 1 << 0, P2P: 1 << 1, PRE_COPY: 1 << 2 });

/** enum vfio_device_mig_state */
export const VFIO_DEVICE_STATE = enumeration("VFIO_DEVICE_STATE", {
  ERROR: 0,
  STOP: 1,
  RUNNING: 2,
  STOP_COPY: 3,
  RESUMING: 4,
  RUNNING_P2P: 5,
  PRE_COPY: 6,
  PRE_COPY_P2P: 7,
  NR: 8,
});

export type MigStateName = Exclude<keyof typeof VFIO_DEVICE_STATE.values, "NR">;
export const MIG_STATE_NAMES: readonly MigStateName[] = [
  "ERROR",
  "STOP",
  "RUNNING",
  "STOP_COPY",
  "RESUMING",
  "RUNNING_P2P",
  "PRE_COPY",
  "PRE_COPY_P2P",
];

/** The v1 migration region's device_state bits (renamed _V1_ in 5.18, when v1 was removed). */
export const VFIO_DEVICE_STATE_V1 = flags("VFIO_DEVICE_STATE_V1", { STOP: 0, RUNNING: 1 << 0, SAVING: 1 << 1, RESUMING: 1 << 2 });
export const VFIO_DEVICE_STATE_MASK = plain({ VFIO_DEVICE_STATE_MASK: 0x7 }).VFIO_DEVICE_STATE_MASK;

/** The v1 header's validity rule: with RESUMING set, nothing else may be. */
export function v1StateValid(state: number): boolean {
  return state & VFIO_DEVICE_STATE_V1.bits.RESUMING ? (state & VFIO_DEVICE_STATE_MASK) === VFIO_DEVICE_STATE_V1.bits.RESUMING : true;
}

/** The v1 header's error encoding: SAVING and RESUMING together. */
export function v1StateIsError(state: number): boolean {
  return (state & VFIO_DEVICE_STATE_MASK) === (VFIO_DEVICE_STATE_V1.bits.SAVING | VFIO_DEVICE_STATE_V1.bits.RESUMING);
}

export const VFIO_DEVICE_FEATURE_BUS_MASTER_OP = plain({
  VFIO_DEVICE_FEATURE_CLEAR_MASTER: 0,
  VFIO_DEVICE_FEATURE_SET_MASTER: 1,
});

// ---- VFIO: device cdev and iommufd binding --------------------------------------------------

export const VFIO_DEVICE_BIND_FLAG = flags("VFIO_DEVICE_BIND_FLAG", { TOKEN: 1 << 0 }); // token: 6.17
export const VFIO_DEVICE_ATTACH = flags("VFIO_DEVICE_ATTACH", { PASID: 1 << 0 });
export const VFIO_DEVICE_DETACH = flags("VFIO_DEVICE_DETACH", { PASID: 1 << 0 });

// ---- VFIO: type1 IOMMU ----------------------------------------------------------------------

export const VFIO_IOMMU_INFO = flags("VFIO_IOMMU_INFO", { PGSIZES: 1 << 0, CAPS: 1 << 1 });

export const VFIO_IOMMU_TYPE1_INFO_CAP = plain({
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: 1,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION: 2,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL: 3,
});

export const VFIO_DMA_MAP_FLAG = flags("VFIO_DMA_MAP_FLAG", { READ: 1 << 0, WRITE: 1 << 1, VADDR: 1 << 2 });
export const VFIO_DMA_UNMAP_FLAG = flags("VFIO_DMA_UNMAP_FLAG", { GET_DIRTY_BITMAP: 1 << 0, ALL: 1 << 1, VADDR: 1 << 2 });
export const VFIO_IOMMU_DIRTY_PAGES_FLAG = flags("VFIO_IOMMU_DIRTY_PAGES_FLAG", { START: 1 << 0, STOP: 1 << 1, GET_BITMAP: 1 << 2 });

// ---- iommufd --------------------------------------------------------------------------------

export const IOMMUFD = plain({ IOMMUFD_TYPE: 0x3b, IOMMUFD_CMD_BASE: 0x80 });

export const IOMMU_IOAS_MAP_FLAG = flags("IOMMU_IOAS_MAP", { FIXED_IOVA: 1 << 0, WRITEABLE: 1 << 1, READABLE: 1 << 2 });

export const IOMMU_OPTION_ID = enumeration("IOMMU_OPTION", { RLIMIT_MODE: 0, HUGE_PAGES: 1 });
export const IOMMU_OPTION_OP = enumeration("IOMMU_OPTION_OP", { SET: 0, GET: 1 });
export const IOMMU_VFIO_IOAS_OP = enumeration("IOMMU_VFIO_IOAS", { GET: 0, SET: 1, CLEAR: 2 });

export const IOMMU_HWPT_ALLOC_FLAG = flags("IOMMU_HWPT_ALLOC", {
  NEST_PARENT: 1 << 0,
  DIRTY_TRACKING: 1 << 1,
  FAULT_ID_VALID: 1 << 2,
});

export const IOMMU_HWPT_DATA = enumeration("IOMMU_HWPT_DATA", { NONE: 0, VTD_S1: 1, ARM_SMMUV3: 2 });
export const IOMMU_HW_INFO_TYPE = enumeration("IOMMU_HW_INFO_TYPE", { NONE: 0, INTEL_VTD: 1, ARM_SMMUV3: 2 });
export const IOMMU_HW_CAP = flags("IOMMU_HW_CAP", { DIRTY_TRACKING: 1 << 0 });
export const IOMMU_HWPT_DIRTY_TRACKING = flags("IOMMU_HWPT_DIRTY_TRACKING", { ENABLE: 1 });
export const IOMMU_HWPT_GET_DIRTY_BITMAP = flags("IOMMU_HWPT_GET_DIRTY_BITMAP", { NO_CLEAR: 1 });

/** Every constant by its kernel name. */
export function constantTable(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const g of groups) {
    for (const [k, v] of Object.entries(g.values)) {
      const name = g.prefix ? `${g.prefix}_${k}` : k;
      if (name in out && out[name] !== v) throw new Error(`constant ${name} defined twice with different values`);
      out[name] = v;
    }
  }
  return out;
}
