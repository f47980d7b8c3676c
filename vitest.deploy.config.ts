import { defineConfig } from "vitest/config";

/**
 * The deployment suite: the Helm chart (helm/pflow) linted, rendered for each
 * of its values files and every manifest validated against the Kubernetes
 * schemas, offline. Needs helm, k8s-strict and promtool: scripts/deploy-tools.sh
 * installs them, and the global setup fails (never skips) without them.
 */
export default defineConfig({
  test: {
    include: ["tests/deploy/**/*.test.ts"],
    globalSetup: ["tests/deploy/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
