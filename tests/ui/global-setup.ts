import { existsSync } from "node:fs";
import { CONSOLE_DIR } from "../../server/routes/console.ts";
import { chromiumPath } from "./browser.ts";

/** The suite needs the browser and the built console; without either it fails and says how to get them. */
export default function setup(): void {
  const browser = chromiumPath();
  if (!existsSync(browser)) {
    throw new Error(
      `no chromium at ${browser}: run scripts/browser.sh (or set PFLOW_CHROMIUM to a chromium binary)`,
    );
  }
  if (!existsSync(`${CONSOLE_DIR}/index.html`)) {
    throw new Error(`the console is not built (${CONSOLE_DIR} has no index.html): run npm run build:ui`);
  }
}
