/** The public package "vfio-workbench": what a notebook cell imports. */
export * from "./display/index.js";
export * from "./kernel/index.js";
export * from "./vfio/index.js";
export * from "./backends/index.js";
export * from "./conformance/index.js";
export * from "./vmm/index.js";
/** The uAPI itself, as include/uapi has it: request numbers, constants, struct layouts and codecs, errnos. */
export * as uapi from "../hw-emu/uapi/index.js";
export { MMAP } from "../hw-emu/uapi/index.js";
