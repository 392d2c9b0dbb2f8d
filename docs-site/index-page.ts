/** The site's first page: what the workbench is, how to run it, and where each reader starts. */
import type { Markdown } from "./markdown.js";
import { escapeMarkup as escapeHtml } from "../kernel-lib/display/escape.js";
import type { Heading, RenderedNotebook } from "./notebook-page.js";
import { READING_ORDER } from "./reading-order.js";

const INTRO = `# vfio-workbench

Executable documentation of the Linux VFIO device live-migration uAPI. Each page is a notebook
whose TypeScript cells drive an emulated PCI / IOMMU / SR-IOV VF stack through the real uAPI —
the same ioctl numbers, struct bytes and errnos as Linux — and every sentence about behaviour is
checked by the cell after it: the site is built only when every claim holds. The same cells run
against a real \`/dev/vfio\`.

## Running it

\`\`\`sh
npm ci && npx vfio-workbench build        # executes every notebook and writes this site to site/
npx vfio-workbench check --twice          # runs every notebook twice; fails on a false claim or any difference
npx vfio-workbench kernel install --user  # then open notebooks/ in Jupyter with the vfio-workbench kernel
\`\`\`
`;

export function indexBody(md: Markdown, notebooks: readonly (RenderedNotebook & { slug: string })[]): { html: string; headings: Heading[] } {
  const bySlug = new Map(notebooks.map((n) => [n.slug, n]));
  const link = (slug: string) => `<a href="${slug}.html">${escapeHtml(bySlug.get(slug)!.title)}</a>`;
  const audiences = READING_ORDER.map((a) => {
    const order = a.order.filter((slug) => bySlug.has(slug));
    return `<h3 id="${escapeHtml(a.who.toLowerCase().replace(/[^a-z0-9]+/g, "-"))}">${escapeHtml(a.who)}</h3><p>${escapeHtml(a.why[0]!.toUpperCase() + a.why.slice(1))}:</p><ol>${order.map((s) => `<li>${link(s)}</li>`).join("")}</ol>`;
  }).join("\n");
  const list = notebooks.map((n) => `<dt>${link(n.slug)}</dt><dd>${escapeHtml(n.summary)}</dd>`).join("\n");
  const html =
    md.render(INTRO, {}) +
    `<h2 id="reading-order">Reading order</h2>\n${audiences}\n` +
    `<h2 id="the-notebooks">The notebooks</h2>\n<dl class="notebook-list">${list}</dl>`;
  const headings: Heading[] = [
    { level: 2, id: "running-it", text: "Running it" },
    { level: 2, id: "reading-order", text: "Reading order" },
    ...READING_ORDER.map((a) => ({ level: 3, id: a.who.toLowerCase().replace(/[^a-z0-9]+/g, "-"), text: a.who })),
    { level: 2, id: "the-notebooks", text: "The notebooks" },
  ];
  return { html, headings };
}
