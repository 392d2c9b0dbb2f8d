/** What notebook cells use from the kernel: rich output and a real ESM import. */
export { display, updateDisplay, newDisplayId, type DisplayHandle, type DisplayOptions } from "../display/display-channel.js";
export { importEsm } from "./import-esm.js";
