/** Which backend a notebook's cells use: the emulator or the host's /dev/vfio. */
export type BackendKind = "emu" | "native";

/** The environment variable through which a runner tells a kernel's cells which backend to use. */
export const BACKEND_ENV = "VFIO_WORKBENCH_BACKEND";
