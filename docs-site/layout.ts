/**
 * The frame around every page: a header with search and the theme toggle, the sidebar of all
 * pages, the page's table of contents, previous/next links. Every link is relative and every
 * page sits at the site's root, so the site works from file:// and from any sub-path.
 */
import { escapeMarkup as escapeHtml } from "../kernel-lib/display/escape.js";
import type { Heading } from "./notebook-page.js";

export interface NavEntry {
  slug: string;
  title: string;
  /** "Notebooks" or "Reference" */
  group: string;
}

export interface PageFrame {
  slug: string;
  title: string;
  body: string;
  headings: readonly Heading[];
  nav: readonly NavEntry[];
  /** a note above the body: the download link and the command that runs the notebook */
  banner?: string;
  /** Vega-Lite specs to embed, by placeholder id */
  vegaSpecs?: ReadonlyMap<string, unknown>;
}

const THEME_BOOT =
  // before the first paint, so a dark page never flashes light
  "try{var t=localStorage.getItem('vwb-theme');if(t==='dark'||t==='light')document.documentElement.dataset.theme=t}catch(e){}";

function sidebar(nav: readonly NavEntry[], current: string): string {
  const groups = [...new Set(nav.map((n) => n.group))];
  return groups
    .map((group) => {
      const items = nav
        .filter((n) => n.group === group)
        .map((n) => `<li><a href="${n.slug}.html"${n.slug === current ? ' aria-current="page"' : ""}>${escapeHtml(n.title)}</a></li>`)
        .join("");
      return `<h2 class="nav-group">${escapeHtml(group)}</h2><ul>${items}</ul>`;
    })
    .join("");
}

function tableOfContents(headings: readonly Heading[]): string {
  const items = headings.filter((h) => h.level === 2 || h.level === 3);
  if (items.length === 0) return "";
  return (
    `<aside class="toc" aria-labelledby="toc-title"><h2 id="toc-title">On this page</h2><ul>` +
    items.map((h) => `<li class="toc-${h.level}"><a href="#${escapeHtml(h.id)}">${escapeHtml(h.text)}</a></li>`).join("") +
    `</ul></aside>`
  );
}

function prevNext(nav: readonly NavEntry[], current: string): string {
  const i = nav.findIndex((n) => n.slug === current);
  if (i < 0) return "";
  const prev = nav[i - 1];
  const next = nav[i + 1];
  return (
    `<nav class="prevnext" aria-label="Previous and next page">` +
    (prev ? `<a class="prev" rel="prev" href="${prev.slug}.html"><span>Previous</span> ${escapeHtml(prev.title)}</a>` : "<span></span>") +
    (next ? `<a class="next" rel="next" href="${next.slug}.html"><span>Next</span> ${escapeHtml(next.title)}</a>` : "<span></span>") +
    `</nav>`
  );
}

/** JSON inside a <script> element, with nothing in it that could end the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/**
 * Regions that scroll sideways (code, long output, wide tables and figures) take keyboard focus,
 * so a reader without a mouse can scroll them too.
 */
export function focusableScrollers(html: string): string {
  return html
    .replace(/<pre(?![^>]*tabindex)/g, '<pre tabindex="0"')
    .replace(/<(div|figure) class="(table-wrap|output html|output chart[^"]*)"/g, '<$1 tabindex="0" class="$2"');
}

export function renderPage(frame: PageFrame): string {
  const specs = frame.vegaSpecs ?? new Map();
  const vega =
    specs.size > 0
      ? `<script src="assets/vega.min.js"></script><script src="assets/vega-lite.min.js"></script><script src="assets/vega-embed.min.js"></script>` +
        [...specs].map(([id, spec]) => `<script type="application/json" class="vega-spec" data-target="${id}">${scriptJson(spec)}</script>`).join("")
      : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(frame.title)} · vfio-workbench</title>
<link rel="stylesheet" href="assets/site.css">
<script>${THEME_BOOT}</script>
</head>
<body>
<a class="skip-link" href="#main">Skip to the content</a>
<header class="topbar">
<a class="brand" href="index.html">vfio-workbench</a>
<div class="search" role="search">
<label for="search-input" class="sr-only">Search the documentation</label>
<input id="search-input" type="search" placeholder="Search (e.g. VFIO_DEVICE_FEATURE)" autocomplete="off" aria-controls="search-results" disabled>
<ol id="search-results" class="search-results" aria-label="Search results" hidden></ol>
</div>
<button id="theme-toggle" type="button" aria-label="Dark mode" aria-pressed="false" hidden>◐</button>
</header>
<div class="layout">
<nav class="sidebar" aria-label="All pages">${sidebar(frame.nav, frame.slug)}</nav>
<main id="main">
${frame.banner ?? ""}
${focusableScrollers(frame.body)}
${prevNext(frame.nav, frame.slug)}
</main>
${tableOfContents(frame.headings)}
</div>
${vega}
<script src="assets/minisearch.js"></script>
<script src="assets/search-index.js"></script>
<script src="assets/site.js"></script>
</body>
</html>
`;
}
