import { createRequire } from "node:module";
import { packageInfo } from "./package-root.js";
import { PROTOCOL_VERSION } from "./wire.js";

export const KERNEL_NAME = "vfio-workbench";
export const KERNEL_DISPLAY_NAME = "TypeScript (vfio-workbench)";
export const KERNEL_LANGUAGE = "typescript";

export interface LanguageInfo {
  name: string;
  version: string;
  mimetype: string;
  file_extension: string;
  codemirror_mode: { name: string; typescript: boolean };
  pygments_lexer: string;
}

/** The TypeScript release tslab compiles cells with (it bundles its own). */
export function cellTypeScriptVersion(): string {
  const requireFromTslab = createRequire(createRequire(import.meta.url).resolve("tslab/package.json"));
  return (requireFromTslab("@tslab/typescript-for-tslab/package.json") as { version: string }).version;
}

export function languageInfo(): LanguageInfo {
  return {
    name: KERNEL_LANGUAGE,
    version: cellTypeScriptVersion(),
    mimetype: "text/typescript",
    file_extension: ".ts",
    // CodeMirror has no mode named "typescript"; its javascript mode with this flag is the TypeScript one.
    codemirror_mode: { name: "javascript", typescript: true },
    pygments_lexer: "typescript",
  };
}

/** The content of kernel_info_reply. */
export function kernelInfoContent(): Record<string, unknown> {
  const { version } = packageInfo();
  return {
    status: "ok",
    protocol_version: PROTOCOL_VERSION,
    implementation: KERNEL_NAME,
    implementation_version: version,
    language_info: languageInfo(),
    banner: `${KERNEL_DISPLAY_NAME} ${version}: TypeScript ${cellTypeScriptVersion()} cells on Node.js ${process.version}`,
    help_links: [],
  };
}
