import { readFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectDefinitionFiles, validateDefinitions } from "../../compiler/index.ts";
import { createEngine } from "../../engine/create.ts";
import type { Engine } from "../../engine/engine.ts";

// Every bundled example runs end to end on the embedded engine with its sample
// input, on the mock model versions its production aliases point at.

let engine: Engine;
let close: () => Promise<void>;
let workflows: string[] = [];

beforeAll(async () => {
  const { files } = await collectDefinitionFiles(["examples"]);
  const set = validateDefinitions(files);
  workflows = [...set.workflows.keys()];
  const created = await createEngine({
    storeUrl: "sqlite::memory:",
    brokerUrl: "memory:",
    logger: pino({ level: "silent" }),
  });
  engine = created.engine;
  close = created.close;
  await engine.services.catalog.register(set, Date.now());
  await engine.start({ recoverAllLeases: true });
});
afterAll(async () => {
  await close();
});

describe("the examples run", () => {
  const names = [
    "listing-description",
    "property-valuation",
    "lease-extraction",
    "photo-tagging",
    "lead-scoring",
    "listing-package",
    "nightly-revaluation",
  ];
  for (const name of names) {
    it(name, async () => {
      expect(workflows).toContain(name);
      const input = JSON.parse(readFileSync(join("examples/inputs", `${name}.json`), "utf8"));
      const started = await engine.startRun({ workflow: name, input });
      const run = await engine.waitForRun(started.id, 20_000);
      const json = await engine.runJson(started.id);
      expect(run?.status, JSON.stringify(json?.nodes, null, 2)).toBe("succeeded");
      expect(json?.output).not.toBeNull();
    });
  }
});
