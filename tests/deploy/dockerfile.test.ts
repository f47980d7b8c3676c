import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

// The image and the local topology: the Dockerfile passes hadolint (installed
// by scripts/deploy-tools.sh) and keeps the promises docs/operations.md makes;
// compose.yaml runs the image as the production topology does.

const ROOT = join(import.meta.dirname, "../..");
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

describe("Dockerfile", () => {
  it("passes hadolint", () => {
    const result = spawnSync("hadolint", ["Dockerfile"], { cwd: ROOT, encoding: "utf8" });
    expect(result.error, "hadolint is not installed: run scripts/deploy-tools.sh").toBeUndefined();
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("builds on Node 24 slim in two stages, the console built and dev dependencies dropped, and runs as a non-root user", () => {
    const stages = dockerfile.match(/^FROM .*/gm) ?? [];
    expect(stages).toHaveLength(2);
    for (const stage of stages) expect(stage).toMatch(/^FROM node:24-[a-z]+-slim/);
    expect(dockerfile).toMatch(/npm ci --no-audit --no-fund && npm prune --omit=dev/);
    expect(dockerfile).toContain("COPY --from=dependencies /app/ui/dist ./ui/dist");
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "cli\/pflow.js"\]$/m);
  });

  it("copies every source folder the CLI imports, and nothing it writes to is outside /tmp", () => {
    for (const folder of ["cli", "compiler", "definitions", "engine", "schemas", "server", "examples"])
      expect(dockerfile).toContain(`COPY ${folder} ./${folder}`);
    expect(dockerfile).toMatch(/PFLOW_STORE_URL=sqlite:\/tmp\//);
  });
});

describe("compose.yaml", () => {
  const compose = parse(readFileSync(join(ROOT, "compose.yaml"), "utf8")) as {
    services: Record<
      string,
      { command?: string[]; environment?: Record<string, string>; read_only?: boolean }
    >;
  };

  it("runs an API tier and a worker tier of the image on MongoDB (a replica set) and RabbitMQ", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["api", "mongo", "rabbitmq", "worker"]);
    expect(compose.services.api?.command).toEqual(["serve", "--no-workers"]);
    expect(compose.services.worker?.command).toEqual(["worker"]);
    for (const tier of ["api", "worker"]) {
      const service = compose.services[tier];
      expect(service?.environment?.PFLOW_STORE_URL).toMatch(/^mongodb:\/\/.*replicaSet=/);
      expect(service?.environment?.PFLOW_BROKER_URL).toMatch(/^amqp:\/\//);
      expect(service?.read_only).toBe(true);
    }
  });
});
