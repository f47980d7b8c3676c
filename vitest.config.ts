import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Unit and CLI tests only here. The integration suite (real services), the
    // deployment suite (helm, promtool, hadolint) and the console's browser suite
    // (chromium) have configs of their own.
    exclude: ["tests/integration/**", "tests/deploy/**", "tests/ui/**"],
  },
});
