import { defineConfig } from "vitest/config";

/**
 * The console's browser suite: the built console (ui/dist) served by a real
 * pflow server on the embedded adapters, driven end to end in Debian's
 * chromium through playwright-core. scripts/browser.sh installs chromium and
 * the global setup fails (never skips) without it or without the build.
 * Files run one at a time: each launches a browser, and the machine is small.
 */
export default defineConfig({
  test: {
    include: ["tests/ui/**/*.test.ts"],
    globalSetup: ["tests/ui/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
