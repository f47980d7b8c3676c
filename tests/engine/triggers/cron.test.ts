import { afterEach, describe, expect, it } from "vitest";
import { derivedRunId } from "../../../engine/triggers/run-ids.ts";
import { Triggers } from "../../../engine/triggers/triggers.ts";
import { type Harness, harness, workflow } from "../harness.ts";

/**
 * Cron triggers against the real embedded Store, with an injected clock: no
 * test sleeps for a schedule. Two Triggers instances on one Store are two
 * processes as far as firing goes: they share nothing but the Store.
 */
const at = (iso: string) => Date.parse(iso);

const NIGHTLY = workflow(
  "nightly",
  `    value: { type: transform, expr: "inputs" }\n`,
  `  inputs: { type: object, required: [at, region], properties: { at: { type: string }, region: { type: string } } }
  triggers:
    - cron: "0 3 * * *"
      timezone: Europe/Lisbon
      input: { region: lisbon, at: "{{ trigger.scheduledAt }}" }
`,
);

const flowWith = (name: string, trigger: string, inputs = "") =>
  workflow(name, `    value: { type: transform, expr: "inputs" }\n`, `${inputs}  triggers:\n${trigger}`);

let now = at("2026-06-01T00:00:00Z");
let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** An engine with its own triggers, and a second "process" on the same Store. */
async function cluster(definitions: string | string[], options: { workers?: boolean } = {}) {
  now = at("2026-06-01T00:00:00Z");
  h = await harness(definitions, { clock: () => now, start: options.workers ?? true });
  const timing = { pollMs: 60_000, refreshMs: 0, graceMs: 60_000, recoverAfterMs: 30_000 };
  const first = new Triggers(h.engine.services, h.engine.runner, timing);
  const second = new Triggers(h.engine.services, h.engine.runner, timing);
  await first.start({ fire: true });
  await second.start({ fire: true });
  const engine = h.engine;
  return {
    engine,
    /** Both processes look at once. */
    tick: () => Promise.all([first.tick(), second.tick()]),
    first,
    async runs(workflowName: string) {
      return (await engine.services.store.listRuns({ workflow: workflowName, limit: 1000 })).items;
    },
    async stop() {
      await first.stop();
      await second.stop();
    },
  };
}

describe("a cron trigger fires exactly once per tick", () => {
  it("two processes looking at the same tick start one run, with a run id derived from the tick", async () => {
    const c = await cluster(NIGHTLY);
    await c.tick();
    expect(await c.runs("nightly")).toEqual([]);
    now = at("2026-06-01T02:00:00.300Z"); // 03:00 in Lisbon (summer time)
    await c.tick();
    await c.tick();
    const runs = await c.runs("nightly");
    expect(runs).toHaveLength(1);
    const tick = at("2026-06-01T02:00:00Z");
    expect(runs[0]?.id).toBe(derivedRunId("cron", "nightly.cron-1", tick));
    expect(runs[0]?.input).toEqual({ region: "lisbon", at: "2026-06-01T02:00:00.000Z" });
    now = at("2026-06-02T02:00:01Z");
    await c.tick();
    expect(await c.runs("nightly")).toHaveLength(2);
    const [view] = await c.first.list();
    expect(view).toMatchObject({
      id: "nightly.cron-1",
      kind: "cron",
      paused: false,
      fired: 2,
      failed: 0,
      lastFireAt: now,
      nextFireAt: at("2026-06-03T02:00:00Z"),
    });
    await c.stop();
  });

  it("catchUp one (default): after downtime, one run for the latest missed tick", async () => {
    const c = await cluster(NIGHTLY);
    await c.tick();
    now = at("2026-06-06T12:00:00Z"); // five nights missed
    await c.tick();
    const runs = await c.runs("nightly");
    expect(runs.map((run) => run.input)).toEqual([{ region: "lisbon", at: "2026-06-06T02:00:00.000Z" }]);
    await c.tick();
    expect(await c.runs("nightly")).toHaveLength(1);
    await c.stop();
  });

  it("catchUp all: each missed tick, oldest first (overlap allow)", async () => {
    const c = await cluster(
      flowWith(
        "hourly",
        `    - { cron: "0 * * * *", catchUp: all, overlap: allow, input: { at: "{{ trigger.scheduledAt }}" } }\n`,
      ),
    );
    await c.tick();
    now = at("2026-06-01T04:30:00Z");
    await c.tick();
    const runs = await c.runs("hourly");
    expect(runs.map((run) => (run.input as { at: string }).at).sort()).toEqual([
      "2026-06-01T01:00:00.000Z",
      "2026-06-01T02:00:00.000Z",
      "2026-06-01T03:00:00.000Z",
      "2026-06-01T04:00:00.000Z",
    ]);
    await c.stop();
  });

  it("catchUp none: missed ticks start nothing; the next tick on time does", async () => {
    const c = await cluster(flowWith("hourly", `    - { cron: "0 * * * *", catchUp: none }\n`));
    await c.tick();
    now = at("2026-06-01T04:30:00Z");
    await c.tick();
    expect(await c.runs("hourly")).toEqual([]);
    expect(await c.engine.services.store.triggers.latestTick("hourly.cron-1")).toMatchObject({
      tick: at("2026-06-01T04:00:00Z"),
      outcome: "missed",
    });
    now = at("2026-06-01T05:00:10Z");
    await c.tick();
    expect(await c.runs("hourly")).toHaveLength(1);
    await c.stop();
  });

  it("overlap skip (default): a tick whose previous run is still going starts nothing; allow starts one", async () => {
    // No workers: runs stay running.
    const c = await cluster(
      [
        flowWith("skipping", `    - { cron: "* * * * *" }\n`),
        flowWith("allowing", `    - { cron: "* * * * *", overlap: allow }\n`),
      ],
      { workers: false },
    );
    await c.tick();
    for (const minute of [1, 2, 3]) {
      now = at(`2026-06-01T00:0${minute}:00Z`);
      await c.tick();
    }
    expect(await c.runs("skipping")).toHaveLength(1);
    expect(await c.runs("allowing")).toHaveLength(3);
    expect(await c.engine.services.store.triggers.latestTick("skipping.cron-1")).toMatchObject({
      outcome: "skipped",
      runId: null,
    });
    await c.stop();
  });

  it("a paused trigger starts nothing, and does not catch up what passed while paused", async () => {
    const c = await cluster(flowWith("hourly", `    - { cron: "0 * * * *" }\n`));
    await c.tick();
    await c.first.setPaused("hourly.cron-1", true);
    now = at("2026-06-01T01:00:00Z");
    await c.tick();
    now = at("2026-06-01T02:30:00Z");
    await c.first.setPaused("hourly.cron-1", false);
    await c.tick();
    expect(await c.runs("hourly")).toEqual([]);
    now = at("2026-06-01T03:00:00Z");
    await c.tick();
    expect(await c.runs("hourly")).toHaveLength(1);
    await c.stop();
  });

  it("a tick claimed by a process that died before starting its run is started by another, once", async () => {
    const c = await cluster(NIGHTLY);
    await c.tick();
    const tick = at("2026-06-01T02:00:00Z");
    const runId = derivedRunId("cron", "nightly.cron-1", tick);
    // The dead process's claim, and no run.
    await c.engine.services.store.triggers.claimTick({
      trigger: "nightly.cron-1",
      tick,
      outcome: "fired",
      runId,
      claimedAt: tick,
    });
    now = tick + 1_000;
    await c.tick();
    expect(await c.runs("nightly")).toEqual([]); // it may still be starting it
    now = tick + 31_000;
    await c.tick();
    await c.tick();
    const runs = await c.runs("nightly");
    expect(runs.map((run) => run.id)).toEqual([runId]);
    await c.stop();
  });

  it("an input the workflow refuses fails the tick, counted and kept as the last error", async () => {
    const c = await cluster(
      flowWith(
        "strict",
        `    - { cron: "0 * * * *", input: { region: 7 } }\n`,
        "  inputs: { type: object, properties: { region: { type: string } } }\n",
      ),
    );
    await c.tick();
    now = at("2026-06-01T01:00:00Z");
    await c.tick();
    expect(await c.runs("strict")).toEqual([]);
    const [view] = await c.first.list();
    expect(view).toMatchObject({ failed: 1, fired: 0 });
    expect(view?.lastError).toBe(
      'the mapped input does not fit the inputs schema of workflow "strict": /region must be string',
    );
    await c.stop();
  });
});
