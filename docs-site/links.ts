/**
 * Every internal link of the site must reach a page that exists and, when it names one, an
 * anchor on that page. A broken one fails the build, naming the page and the link.
 */
import { Parser } from "htmlparser2";

export interface BuiltPage {
  /** file name in the site, e.g. 01-uapi-tour.html */
  file: string;
  html: string;
}

export class BrokenLinkError extends Error {
  override name = "BrokenLinkError";
}

/** Whether an href leaves the site (a URL with a scheme, a protocol-relative URL, or mailto). */
function external(href: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("//");
}

/** The broken internal links, as "page: link (why)". */
export function brokenLinks(pages: readonly BuiltPage[], otherFiles: ReadonlySet<string>): string[] {
  // one streaming pass over each page (no DOM): its ids, and its links in document order
  const ids = new Map<string, Set<string>>();
  const links = new Map<string, string[]>();
  for (const page of pages) {
    const pageIds = new Set<string>();
    const hrefs: string[] = [];
    const parser = new Parser({
      onopentag(name, attributes) {
        if (attributes.id !== undefined) pageIds.add(attributes.id);
        if (name === "a" && attributes.href !== undefined) hrefs.push(attributes.href);
      },
    });
    parser.write(page.html);
    parser.end();
    ids.set(page.file, pageIds);
    links.set(page.file, hrefs);
  }
  const problems: string[] = [];
  for (const page of pages) {
    for (const href of links.get(page.file)!) {
      if (external(href)) continue;
      const [path, fragment] = href.split("#", 2) as [string, string | undefined];
      const target = path === "" ? page.file : decodeURIComponent(path);
      if (target.includes("/") && !otherFiles.has(target)) {
        problems.push(`${page.file}: ${href} (links outside the site's pages)`);
        continue;
      }
      const targetIds = ids.get(target);
      if (!targetIds) {
        if (!otherFiles.has(target)) problems.push(`${page.file}: ${href} (no page ${target})`);
        continue;
      }
      if (fragment && !targetIds.has(decodeURIComponent(fragment))) problems.push(`${page.file}: ${href} (no anchor #${fragment} on ${target})`);
    }
  }
  return problems;
}
