/** The docs site: built from the executed notebooks. */
export { buildSite, SiteBuildError, type BuildOptions, type BuildResult, type ExtraPage } from "./build.js";
export { CACHE_DIR } from "./cache.js";
