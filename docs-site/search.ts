/**
 * The full-text index, built at build time with MiniSearch over every section of every page:
 * its heading, its prose, its code and the uAPI identifiers it names. The page loads it as a
 * script (a fetch would not work from file://) and MiniSearch answers in the browser.
 */
import MiniSearch from "minisearch";
import { UAPI_IDENTIFIER, type Section } from "./notebook-page.js";

/** Shared with assets/site.js, which must load the index with the same options. */
export const SEARCH_FIELDS = ["heading", "identifiers", "prose", "code"] as const;
/** Words are letters, digits and underscores, so VFIO_DEVICE_FEATURE stays one term. */
export const TOKEN_SPLIT = /[^A-Za-z0-9_]+/;

export interface SearchDocument {
  id: string;
  /** page.html#anchor */
  href: string;
  page: string;
  heading: string;
  identifiers: string;
  prose: string;
  code: string;
}

export function searchDocuments(slug: string, pageTitle: string, sections: readonly Section[]): SearchDocument[] {
  return sections.map((s, i) => ({
    id: `${slug}#${s.anchor || i}`,
    href: `${slug}.html${s.anchor ? `#${s.anchor}` : ""}`,
    page: pageTitle,
    heading: s.heading || pageTitle,
    // a section that explains an identifier names it in its prose, so prose identifiers count
    identifiers: [...new Set(s.prose.match(UAPI_IDENTIFIER) ?? [])].join(" "),
    prose: s.prose,
    code: s.code,
  }));
}

/** assets/search-index.js: the serialized index and the fields a result shows. */
export function searchIndexScript(documents: readonly SearchDocument[]): string {
  const search = new MiniSearch<SearchDocument>({
    fields: [...SEARCH_FIELDS],
    storeFields: ["href", "page", "heading"],
    tokenize: (text) => text.split(TOKEN_SPLIT).filter((t) => t !== ""),
  });
  search.addAll([...documents]);
  return `window.VWB_SEARCH = ${JSON.stringify({ index: search.toJSON(), fields: SEARCH_FIELDS, split: TOKEN_SPLIT.source })};\n`;
}
