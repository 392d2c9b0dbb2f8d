/**
 * The built site in a real browser: Debian's chromium driven by playwright-core. Every page loads
 * clean; charts are SVG; an interactive chart answers a hover; search leads to the section that
 * explains an identifier; the theme toggles, persists and reaches the charts; the sidebar and the
 * table of contents reach real anchors; a page reads with JavaScript off; axe-core finds nothing
 * serious. Screenshots are kept in test-output/screenshots/.
 *
 * Registered by test/notebooks/notebooks.test.ts after `check --twice`, which leaves the executed
 * notebooks in the build cache: the site is then built without executing them a third time.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSite } from "../../docs-site/index.js";
import { apiReferencePage } from "../../docs-site/api-reference.js";
import { cliReferencePage } from "../../docs-site/cli-reference.js";
import { buildProgram } from "../../cli/program.js";
import { repoRoot, requireBuild } from "../kernel/helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.log(`skipping the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`);

const out = join(repoRoot, "test-output", "site");
const shots = join(repoRoot, "test-output", "screenshots");
const IDENTIFIER = "VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE";

let browser: Browser;
let pages: string[];
const url = (file: string) => pathToFileURL(join(out, file)).href;

/** Opens a page and collects every console error and uncaught exception on it. */
async function open(file: string, options: { javaScriptEnabled?: boolean; colorScheme?: "light" | "dark" } = {}): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
  const context = await browser.newContext({ javaScriptEnabled: options.javaScriptEnabled ?? true, colorScheme: options.colorScheme ?? "light", viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  await page.goto(url(file));
  return { page, errors, close: () => context.close() };
}

/** Waits until every interactive chart on the page has been embedded. */
async function chartsEmbedded(page: Page): Promise<void> {
  await page.waitForFunction(() => [...document.querySelectorAll(".vega-live")].every((el) => !(el as HTMLElement).hidden && el.querySelector("svg")), null, { timeout: 20_000 });
}

/** The browser tests, as a suite of their own (see above for why they are not a file of their own). */
export function siteInBrowser(): void {
  beforeAll(async () => {
    if (!haveChromium) return;
    requireBuild();
    mkdirSync(shots, { recursive: true });
    // the pages `vfio-workbench build` writes, the reference pages among them
    const result = await buildSite({ root: repoRoot, out, extraPages: [cliReferencePage(buildProgram()), apiReferencePage()] });
    expect(result.pages).toEqual(expect.arrayContaining(["cli.html", "api.html"]));
    pages = result.pages;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
  });

  describe.skipIf(!haveChromium)("the docs site in chromium", () => {
    it("loads every page with no console or page error, and keeps a screenshot of each", async () => {
      for (const file of pages) {
        const { page, errors, close } = await open(file);
        if (await page.locator(".vega-live").count()) await chartsEmbedded(page);
        await page.screenshot({ path: join(shots, `${file.replace(/\.html$/, "")}.png`), fullPage: false });
        expect(errors, file).toEqual([]);
        await close();
      }
    }, 300_000);

    it("renders charts as SVG, and an interactive Vega-Lite chart answers a hover with its tooltip", async () => {
      const { page, close } = await open("09-writing-notebooks.html");
      await chartsEmbedded(page);
      expect(await page.locator("figure.chart svg").count()).toBeGreaterThanOrEqual(2);
      const bar = page.locator(".vega-live svg .mark-rect path").first();
      await bar.scrollIntoViewIfNeeded();
      await bar.hover({ force: true });
      const tooltip = page.locator("#vg-tooltip-element.visible");
      await tooltip.waitFor({ timeout: 10_000 });
      const tip = (await tooltip.textContent()) ?? "";
      expect(tip).toMatch(/notebook\s*00-first-migration/);
      expect(tip).toMatch(/cells with the tag\s*\d/);
      await page.screenshot({ path: join(shots, "tooltip.png") });
      await close();
    }, 60_000);

    it(`finds ${IDENTIFIER} and leads to a section that explains it`, async () => {
      const { page, close } = await open("index.html");
      await page.fill("#search-input", IDENTIFIER);
      const first = page.locator("#search-results a").first();
      await first.waitFor();
      await page.screenshot({ path: join(shots, "search.png") });
      await first.click();
      await page.waitForLoadState("load");
      const hash = new URL(page.url()).hash.slice(1);
      expect(hash).not.toBe("");
      // the section from the heading the result names to the next heading of its level or above
      const sectionText = await page.evaluate((id) => {
        const heading = document.getElementById(id)!;
        const level = Number(heading.tagName.slice(1));
        let text = heading.textContent ?? "";
        for (let n = heading.closest(".cell")!.nextElementSibling ?? null, el: Element | null = heading.nextElementSibling; ; ) {
          while (el) {
            if (/^H[1-6]$/.test(el.tagName) && Number(el.tagName.slice(1)) <= level) return text;
            text += ` ${el.textContent ?? ""}`;
            el = el.nextElementSibling;
          }
          if (!n) return text;
          const h = n.querySelector("h1, h2, h3, h4, h5, h6");
          if (h && Number(h.tagName.slice(1)) <= level && n.firstElementChild === h) return text;
          el = n.firstElementChild;
          n = n.nextElementSibling;
        }
      }, hash);
      expect(sectionText).toContain(IDENTIFIER);
      await close();
    }, 60_000);

    it("toggles dark mode, keeps it across pages, and the charts follow: no white background, text in the page's colour", async () => {
      const { page, close } = await open("03-irq-restore.html");
      await chartsEmbedded(page);
      await page.click("#theme-toggle");
      expect(await page.getAttribute("html", "data-theme")).toBe("dark");
      expect(await page.getAttribute("#theme-toggle", "aria-pressed")).toBe("true");
      await page.goto(url("03-irq-restore.html"));
      await chartsEmbedded(page);
      expect(await page.getAttribute("html", "data-theme")).toBe("dark");
      const colours = await page.evaluate(() => {
        const svg = document.querySelector(".vega-live svg")!;
        const background = svg.querySelector(".background") as SVGElement | null;
        const label = svg.querySelector(".role-axis-label text") as SVGElement | null;
        return { body: getComputedStyle(document.body).color, backdrop: getComputedStyle(document.body).backgroundColor, fill: background?.getAttribute("fill") ?? "none", label: label ? getComputedStyle(label).fill : null };
      });
      expect(colours.fill === "none" || colours.fill === "transparent" || colours.fill === null).toBe(true);
      expect(colours.label).toBe(colours.body);
      expect(colours.backdrop).not.toBe("rgb(255, 255, 255)");
      await page.screenshot({ path: join(shots, "dark-03-irq-restore.png") });
      await page.click("#theme-toggle");
      expect(await page.getAttribute("html", "data-theme")).toBe("light");
      await close();
    }, 60_000);

    it("links the sidebar and every table of contents to pages and anchors that exist", async () => {
      for (const file of pages) {
        const { page, close } = await open(file);
        const missing = await page.evaluate(() =>
          [...document.querySelectorAll<HTMLAnchorElement>(".toc a")].filter((a) => !document.getElementById(decodeURIComponent(a.hash.slice(1)))).map((a) => a.getAttribute("href")),
        );
        expect(missing, file).toEqual([]);
        const targets = await page.evaluate(() => [...document.querySelectorAll<HTMLAnchorElement>(".sidebar a")].map((a) => a.getAttribute("href")!));
        for (const target of targets) expect(existsSync(join(out, target)), `${file} → ${target}`).toBe(true);
        await close();
      }
    }, 120_000);

    it("reads with JavaScript off: static figures shown, nothing interactive left half-made", async () => {
      const { page, close } = await open("05-live-migration.html", { javaScriptEnabled: false });
      expect(await page.locator(".vega-static svg").first().isVisible()).toBe(true);
      expect(await page.locator(".vega-live").first().isVisible()).toBe(false);
      expect(await page.locator("#theme-toggle").isVisible()).toBe(false);
      expect(await page.locator("figure.chart svg").count()).toBeGreaterThanOrEqual(2);
      await page.screenshot({ path: join(shots, "no-javascript-05.png") });
      await close();
    }, 60_000);

    it("has no serious or critical accessibility violation on any page (axe-core)", async () => {
      const axe = readFileSync(join(repoRoot, "node_modules", "axe-core", "axe.min.js"), "utf8");
      for (const file of pages) {
        const { page, close } = await open(file);
        if (await page.locator(".vega-live").count()) await chartsEmbedded(page);
        await page.addScriptTag({ content: axe });
        const violations = await page.evaluate(async () => {
          const result = await (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document, {});
          return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
        });
        expect(violations, `${file}: ${violations.join("; ")}`).toEqual([]);
        await close();
      }
    }, 300_000);
  });
}
