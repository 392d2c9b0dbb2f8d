/**
 * "Run live" on a built page, in Debian's chromium, as a reader uses it: the switch loads the live
 * code only when pressed; Run all redraws every cell's outputs exactly as the built page drew
 * them; an edited cell shows its new output; Reset brings the built page back. From file:// the
 * switch says it needs HTTP instead of failing.
 *
 * Registered by test/notebooks/notebooks.test.ts after the site tests (site-in-browser.ts), whose
 * site it serves: building one more would execute every notebook again.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StaticServer } from "../../docs-site/serve/static-server.js";
import { repoRoot, requireBuild } from "../kernel/helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const NOTEBOOK = "00-first-migration";
const shots = join(repoRoot, "test-output", "screenshots");

// the site site-in-browser.ts built
const site = join(repoRoot, "test-output", "site");
let server: StaticServer;
let origin: string;
let browser: Browser;

/** Every code cell's outputs as the page shows them, by cell id. */
function outputsOf(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => Object.fromEntries(Array.from(document.querySelectorAll(".code-cell")).map((c) => [c.id, c.querySelector(".outputs")?.innerHTML ?? ""])));
}

async function goLive(page: Page, notebook = NOTEBOOK): Promise<void> {
  const requested: string[] = [];
  page.on("request", (r) => requested.push(r.url()));
  await page.goto(`${origin}/${notebook}.html`);
  // nothing of the live code is loaded before the reader asks
  expect(requested.filter((u) => u.includes("/assets/live/"))).toEqual([]);
  await page.getByRole("button", { name: "Run live in this page" }).click();
  await page.locator(".live-banner").waitFor({ timeout: 60_000 });
}

/** The "Run live" tests, as a suite of their own (see above for why they are not a file of their own). */
export function livePage(): void {
  beforeAll(async () => {
    if (!haveChromium) return;
    requireBuild();
    server = new StaticServer({ siteDir: site, liveReloadScript: join(repoRoot, "docs-site", "assets", "live-reload.js"), notBuiltYet: () => [] });
    origin = `http://127.0.0.1:${await server.listen(0)}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  describe.skipIf(!haveChromium)("Run live", () => {
    it.each([NOTEBOOK, "01-uapi-tour"])("runs every cell of %s in the page and draws the built page's outputs again, exactly", async (notebook) => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await goLive(page, notebook);
      const built = await outputsOf(page);
      expect(await page.locator(".live-editor").count()).toBeGreaterThan(3);
      await page.getByRole("button", { name: "Run all" }).click();
      await page.getByRole("status").filter({ hasText: /All \d+ cells ran\.|failed/ }).waitFor({ timeout: 120_000 });
      expect(await page.getByRole("status").textContent()).toMatch(/^All \d+ cells ran\.$/);
      const live = await outputsOf(page);
      expect(Object.keys(live)).toEqual(Object.keys(built));
      for (const id of Object.keys(built)) expect(live[id], id).toBe(built[id]);
      expect(errors).toEqual([]);
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, `live-run-all-${notebook}.png`) });
      await page.close();
    }, 180_000);

    it("shows an edited cell's new output, and Reset brings the built page back", async () => {
      const page = await browser.newPage();
      await goLive(page);
      const built = await outputsOf(page);
      const last = page.locator(".code-cell").last();
      const id = (await last.getAttribute("id"))!;
      // replace the last cell's code with a value of our own, then run it (the cells above run first)
      await last.locator(".cm-content").click();
      await page.keyboard.press("Control+A");
      await page.keyboard.insertText('"edited in the page: " + (6 * 7)');
      await last.getByRole("button", { name: "Run" }).click();
      await last.locator(".outputs", { hasText: "edited in the page: 42" }).waitFor({ timeout: 120_000 });
      await page.getByRole("button", { name: "Reset" }).click();
      expect((await outputsOf(page))[id]).toBe(built[id]);
      expect(await last.locator(".cm-content").textContent()).not.toContain("edited in the page");
      await page.close();
    }, 180_000);

    it("says from file:// that running live needs the site served over HTTP", async () => {
      const page = await browser.newPage();
      await page.goto(pathToFileURL(join(site, `${NOTEBOOK}.html`)).href);
      await page.getByRole("button", { name: "Run live in this page" }).click();
      await expect.poll(() => page.locator(".run-banner").textContent()).toContain("needs the site served over HTTP");
      await page.close();
    }, 60_000);
  });
}
