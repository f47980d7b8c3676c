import { defineConfig } from "vitest/config";

/**
 * The integration suite: adapters and fault tests against real RabbitMQ and a
 * MongoDB-wire server (scripts/services.sh starts both; .ci/run calls it).
 * Files run one at a time: fault tests kill and restart servers and processes.
 */
export default defineConfig({
  test: {
    include: ["tests/integration/**/*.test.ts"],
    globalSetup: ["tests/integration/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
