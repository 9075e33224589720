import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** Debian's chromium; playwright-core drives it and downloads no browser of its own. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Where the dashboard test writes its screenshots (not committed). */
export const SCREENSHOTS = join(import.meta.dirname, "../../../test-results/dashboard");

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/**
 * Starts headless chromium with a fresh profile (--user-data-dir: playwright passes it for a
 * persistent context) and opens one page. Fails, naming the install command, when chromium is missing.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the dashboard tests need Debian's chromium (as root: apt-get install -y chromium)`);
  }
  const profile = mkdtempSync(join(tmpdir(), "deploybot-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 860 },
    colorScheme: "light",
    reducedMotion: "reduce",
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Saves a whole-page screenshot as test-results/dashboard/<name>.png. The viewport is made as tall
 * as the page for it (and put back), rather than using `fullPage`: chromium's full-page capture
 * resets inner scrollers such as the log to their top, which no reader would see.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const viewport = page.viewportSize() ?? { width: 1280, height: 860 };
  const pageHeight = () => page.evaluate(() => document.documentElement.scrollHeight);
  // Twice: parts sized by the viewport (vh) grow with it.
  let resized = false;
  for (let i = 0, height = await pageHeight(); i < 2 && height > (page.viewportSize()?.height ?? 0); i++, height = await pageHeight()) {
    await page.setViewportSize({ width: viewport.width, height: Math.min(height, 4000) });
    await page.waitForTimeout(100);
    resized = true;
  }
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  if (resized) await page.setViewportSize(viewport);
}
