import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Unit and CLI tests only here. The integration suite (real services) and the
    // deployment suite (helm, promtool, hadolint) have configs of their own.
    exclude: ["tests/integration/**", "tests/deploy/**"],
  },
});
