import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

/**
 * Debian's chromium, driven by playwright-core (no browser download): headless,
 * with the flags this machine needs and a fresh profile (user-data-dir) per
 * browser, removed on close.
 */
export function chromiumPath(): string {
  return process.env.PFLOW_CHROMIUM ?? "/usr/bin/chromium";
}

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];

export interface Browser {
  readonly context: BrowserContext;
  /** A new tab; `viewport` defaults to 1280×800. */
  page(viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "pflow-ui-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  const errors: string[] = [];
  return {
    context,
    async page(viewport) {
      const page = await context.newPage();
      // Fail in seconds, not playwright's default 30 s, when the console does not show what a test waits for.
      page.setDefaultTimeout(10_000);
      if (viewport) await page.setViewportSize(viewport);
      // A script error or a CSP violation in the console fails the test that caused it.
      page.on("pageerror", (error) => errors.push(error.message));
      page.on("console", (message) => {
        if (message.type() === "error" && !/status of 4\d\d/.test(message.text()))
          errors.push(message.text());
      });
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      if (errors.length > 0) throw new Error(`the console logged errors:\n${errors.join("\n")}`);
    },
  };
}
