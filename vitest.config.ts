import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Unit and CLI tests only here; the integration suite (real services) gets its own config.
    exclude: ["tests/integration/**"],
  },
});
