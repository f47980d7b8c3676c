import { describe, expect, it } from "vitest";
import { engineSettings, processLogger } from "../../cli/environment.ts";
import { UsageError } from "../../cli/usage.ts";
import { ConfigurationError, createEngine, redactUrl, UnreachableError } from "../../engine/create.ts";

// Configuration that cannot work stops the process at start, naming what is
// wrong, and never printing a password.

describe("settings from the environment", () => {
  it("reads the production settings", () => {
    const settings = engineSettings({
      PFLOW_STORE_URL: "mongodb://db/pflow",
      PFLOW_BROKER_URL: "amqp://mq",
      PFLOW_BROKER_QUEUES: "gpu=model.llama-*, model.mistral-*;default=*",
      PFLOW_WORKER_QUEUES: "gpu",
      PFLOW_MAX_DELIVERIES: "3",
      PFLOW_WORKER_CONCURRENCY: "32",
      PFLOW_SHUTDOWN_GRACE_MS: "0",
      PFLOW_CANARY_ANALYSIS_INTERVAL_MS: "60000",
    });
    expect(settings).toEqual({
      storeUrl: "mongodb://db/pflow",
      brokerUrl: "amqp://mq",
      broker: {
        maxDeliveries: 3,
        queues: [
          { queue: "gpu", routes: ["model.llama-*", "model.mistral-*"] },
          { queue: "default", routes: ["*"] },
        ],
        consumeFrom: ["gpu"],
      },
      config: { concurrency: 32, shutdownGraceMs: 0, canaryAnalysisIntervalMs: 60_000 },
    });
  });

  it("refuses a number that is not one, naming the variable", () => {
    expect(() => engineSettings({ PFLOW_MAX_DELIVERIES: "three" })).toThrow(UsageError);
    expect(() => engineSettings({ PFLOW_MAX_DELIVERIES: "three" })).toThrow(
      'PFLOW_MAX_DELIVERIES must be an integer ≥ 1, not "three"',
    );
    expect(() => engineSettings({ PFLOW_LEASE_MS: "10" })).toThrow(
      "PFLOW_LEASE_MS must be an integer ≥ 1000",
    );
    expect(() => engineSettings({ PFLOW_CANARY_ANALYSIS_INTERVAL_MS: "15s" })).toThrow(
      'PFLOW_CANARY_ANALYSIS_INTERVAL_MS must be an integer ≥ 1000, not "15s"',
    );
  });

  it("refuses worker pools it cannot read, with an example", () => {
    expect(() => engineSettings({ PFLOW_BROKER_QUEUES: "gpu" })).toThrow(
      'PFLOW_BROKER_QUEUES: "gpu" is not queue=route,route (e.g. "gpu=model.llama-*;default=*")',
    );
  });
});

describe("backend URLs", () => {
  it("refuses a PFLOW_PII_REGIONS naming no region, naming the variable", async () => {
    const before = process.env.PFLOW_PII_REGIONS;
    process.env.PFLOW_PII_REGIONS = "PT,ZZ";
    try {
      await expect(createEngine({ storeUrl: "sqlite::memory:", brokerUrl: "memory:" })).rejects.toThrow(
        new ConfigurationError(
          'redact_pii: PFLOW_PII_REGIONS names "ZZ", not a region with a phone numbering plan; use ISO 3166-1 alpha-2 codes such as PT, ES, GB, FR, DE, US',
        ),
      );
    } finally {
      if (before === undefined) delete process.env.PFLOW_PII_REGIONS;
      else process.env.PFLOW_PII_REGIONS = before;
    }
  });

  it("refuses a URL of no known backend, without its password", async () => {
    await expect(
      createEngine({ storeUrl: "postgres://pflow:s3cret@db/pflow", brokerUrl: "memory:" }),
    ).rejects.toThrow(ConfigurationError);
    await expect(
      createEngine({ storeUrl: "postgres://pflow:s3cret@db/pflow", brokerUrl: "memory:" }),
    ).rejects.toThrow('unsupported store URL "postgres://pflow:***@db/pflow"');
    await expect(createEngine({ storeUrl: "sqlite::memory:", brokerUrl: "kafka://k:9092" })).rejects.toThrow(
      'unsupported broker URL "kafka://k:9092": use memory: or amqp://HOST',
    );
  });

  it("says which backend it cannot reach, after its retries, without the password", async () => {
    const failure = createEngine({
      storeUrl: "sqlite::memory:",
      brokerUrl: "amqp://pflow:s3cret@127.0.0.1:1",
    });
    await expect(failure).rejects.toThrow(UnreachableError);
    await expect(failure).rejects.toThrow(
      /^cannot reach the broker at amqp:\/\/pflow:\*\*\*@127\.0\.0\.1:1: .*ECONNREFUSED/,
    );
  }, 30_000);

  it("redacts passwords in any URL", () => {
    expect(redactUrl("mongodb://u:p@a,b/db?replicaSet=rs0")).toBe("mongodb://u:***@a,b/db?replicaSet=rs0");
    expect(redactUrl("amqp://mq:5672")).toBe("amqp://mq:5672");
  });
});

describe("the process's logger", () => {
  it("logs at PFLOW_LOG_LEVEL, info by default, and refuses a level pino does not know", () => {
    expect(processLogger("stderr", {}).level).toBe("info");
    expect(processLogger("stderr", { PFLOW_LOG_LEVEL: "warn" }).level).toBe("warn");
    expect(() => processLogger("stderr", { PFLOW_LOG_LEVEL: "loud" })).toThrow(
      /PFLOW_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "loud"/,
    );
  });
});
