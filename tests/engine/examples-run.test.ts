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

describe("the example that waits for a person", () => {
  async function reviewWaiting(): Promise<string> {
    const input = JSON.parse(readFileSync("examples/inputs/listing-approval.json", "utf8"));
    const { id } = await engine.startRun({ workflow: "listing-approval", input });
    for (let i = 0; i < 400; i++) {
      if ((await engine.services.store.getExecution(`${id}/review`))?.status === "waiting") return id;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error("the review never waited");
  }

  it("listing-approval publishes once approved", async () => {
    const id = await reviewWaiting();
    await engine.decide({
      runId: id,
      nodeId: "review",
      item: null,
      approved: true,
      comment: null,
      by: "agent",
    });
    expect((await engine.waitForRun(id, 20_000))?.status).toBe("succeeded");
    const output = (await engine.runJson(id))?.output as Record<string, unknown>;
    expect(output).toMatchObject({ published: true, listing: { approvedBy: "agent" }, returned: null });
  });

  it("listing-approval goes back to the agent when rejected", async () => {
    const id = await reviewWaiting();
    await engine.decide({
      runId: id,
      nodeId: "review",
      item: null,
      approved: false,
      comment: "too long",
      by: "agent",
    });
    expect((await engine.waitForRun(id, 20_000))?.status).toBe("succeeded");
    expect((await engine.runJson(id))?.output).toMatchObject({
      published: false,
      listing: null,
      returned: { reason: "rejected", comment: "too long" },
    });
  });
});
