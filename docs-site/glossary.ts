/**
 * The glossary: every uAPI identifier the pages name, what the uAPI makes of it (a request
 * number, a constant's value, a struct's size) taken from hw-emu/uapi, and a link to every
 * section that uses it.
 */
import { escapeMarkup as escapeHtml } from "../kernel-lib/display/escape.js";
import * as uapi from "../hw-emu/uapi/index.js";
import { UAPI_IDENTIFIER, type Section } from "./notebook-page.js";

export interface GlossaryUse {
  page: string;
  pageTitle: string;
  anchor: string;
  heading: string;
}

const ABI = uapi.abiJson();

/** What the uAPI tables say an identifier is: a request number or a constant's value. */
function meaning(name: string): string {
  const request = ABI.ioctls[name];
  if (request !== undefined) return `ioctl request 0x${request.toString(16)}`;
  const value = ABI.constants[name];
  if (value !== undefined) return `constant, ${value > 9 ? `0x${value.toString(16)}` : value}`;
  return "";
}

export function collectUses(pages: readonly { slug: string; title: string; sections: readonly Section[] }[]): Map<string, GlossaryUse[]> {
  const uses = new Map<string, GlossaryUse[]>();
  for (const page of pages) {
    for (const section of page.sections) {
      const names = new Set([...(section.prose.match(UAPI_IDENTIFIER) ?? []), ...(section.code.match(UAPI_IDENTIFIER) ?? [])]);
      for (const name of names) {
        const list = uses.get(name) ?? [];
        list.push({ page: page.slug, pageTitle: page.title, anchor: section.anchor, heading: section.heading || page.title });
        uses.set(name, list);
      }
    }
  }
  return new Map([...uses].sort(([a], [b]) => a.localeCompare(b)));
}

export function glossaryBody(uses: ReadonlyMap<string, readonly GlossaryUse[]>): string {
  const rows = [...uses]
    .map(([name, list]) => {
      const links = list
        .map((u) => `<a href="${u.page}.html${u.anchor ? `#${escapeHtml(u.anchor)}` : ""}">${escapeHtml(u.pageTitle)}${u.heading !== u.pageTitle ? ` › ${escapeHtml(u.heading)}` : ""}</a>`)
        .join("<br>");
      const what = meaning(name);
      return `<tr id="${escapeHtml(name)}"><th scope="row"><code>${escapeHtml(name)}</code></th><td>${escapeHtml(what)}</td><td>${links}</td></tr>`;
    })
    .join("\n");
  return (
    `<h1 id="glossary">Glossary of uAPI identifiers</h1>` +
    `<p>Every identifier of the VFIO and iommufd uAPI that a page names, with what <code>include/uapi/linux/vfio.h</code> and <code>iommufd.h</code> make of it where this package's uAPI tables know it, and each section that uses it.</p>` +
    `<div class="table-wrap"><table class="glossary"><thead><tr><th scope="col">identifier</th><th scope="col">in the uAPI</th><th scope="col">used in</th></tr></thead><tbody>${rows}</tbody></table></div>`
  );
}
