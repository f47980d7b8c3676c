import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import type { StoreContext } from "./seed.ts";

const T0 = 1_800_000_000_000;

/** Trigger state, cron tick claims and event dead letters (Store.triggers). */
export function triggersContract(context: StoreContext): void {
  const id = () => `flow-${randomUUID().slice(0, 8)}.cron-1`;

  it("latestWorkflowVersions: each workflow's latest version number, models left out", async () => {
    const { store } = context;
    const name = `flow-${randomUUID().slice(0, 8)}`;
    const register = (kind: "Workflow" | "Model", named: string, hash: string) =>
      store.registerDefinition(
        { kind, name: named, hash, source: `# ${hash}\n`, compiled: { hash }, actor: null },
        T0,
      );
    await register("Workflow", name, "h1");
    await register("Workflow", name, "h2");
    await register("Workflow", `${name}-b`, "h1");
    await register("Model", `${name}-m`, "h1");
    const latest = await store.triggers.latestWorkflowVersions();
    expect(
      latest.filter((entry) => entry.name.startsWith(name)).sort((a, b) => a.name.localeCompare(b.name)),
    ).toEqual([
      { name, version: 2 },
      { name: `${name}-b`, version: 1 },
    ]);
  });

  it("ensureTrigger creates a trigger once, running, since now; later calls return it unchanged", async () => {
    const { triggers } = context.store;
    const trigger = id();
    const created = await triggers.ensureTrigger(trigger, "flow", "cron", T0);
    expect(created).toEqual({
      id: trigger,
      workflow: "flow",
      kind: "cron",
      paused: false,
      since: T0,
      lastFireAt: null,
      lastRunId: null,
      lastError: null,
      lastErrorAt: null,
      fired: 0,
      failed: 0,
    });
    expect(await triggers.ensureTrigger(trigger, "flow", "cron", T0 + 5000)).toEqual(created);
    expect(await triggers.getTrigger(trigger)).toEqual(created);
    expect(await triggers.getTrigger("nope.cron-1")).toBeNull();
    expect((await triggers.listTriggers()).map((t) => t.id)).toContain(trigger);
  });

  it("fired and failed count, and keep the last run, fire time and error", async () => {
    const { triggers } = context.store;
    const trigger = id();
    await triggers.ensureTrigger(trigger, "flow", "event", T0);
    await triggers.recordTriggerFired(trigger, "run-1", T0 + 10);
    await triggers.recordTriggerFired(trigger, "run-2", T0 + 20);
    await triggers.recordTriggerFailed(trigger, "input rejected", T0 + 30);
    expect(await triggers.getTrigger(trigger)).toMatchObject({
      fired: 2,
      failed: 1,
      lastRunId: "run-2",
      lastFireAt: T0 + 20,
      lastError: "input rejected",
      lastErrorAt: T0 + 30,
    });
  });

  it("pause and resume; resuming moves since to now, so ticks missed while paused are not caught up", async () => {
    const { triggers } = context.store;
    const trigger = id();
    await triggers.ensureTrigger(trigger, "flow", "cron", T0);
    expect(await triggers.setTriggerPaused(trigger, true, T0 + 100)).toMatchObject({
      paused: true,
      since: T0,
    });
    expect(await triggers.setTriggerPaused(trigger, false, T0 + 200)).toMatchObject({
      paused: false,
      since: T0 + 200,
    });
    // Resuming a trigger that is not paused changes nothing.
    expect(await triggers.setTriggerPaused(trigger, false, T0 + 300)).toMatchObject({ since: T0 + 200 });
    expect(await triggers.setTriggerPaused("nope.cron-1", true, T0)).toBeNull();
  });

  it("a tick is claimed once, whoever asks, however many ask at once", async () => {
    const { triggers } = context.store;
    const trigger = id();
    const claim = (runId: string) =>
      triggers.claimTick({ trigger, tick: T0, outcome: "fired", runId, claimedAt: T0 + 1 });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => claim(`run-${i}`)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect(await triggers.latestTick(trigger)).toEqual({
      trigger,
      tick: T0,
      outcome: "fired",
      runId: `run-${winner}`,
      claimedAt: T0 + 1,
    });
    // Another tick of the same trigger, and the same tick of another trigger, are claims of their own.
    expect(
      await triggers.claimTick({ trigger, tick: T0 + 60_000, outcome: "missed", runId: null, claimedAt: T0 }),
    ).toBe(true);
    expect(
      await triggers.claimTick({ trigger: id(), tick: T0, outcome: "fired", runId: "x", claimedAt: T0 }),
    ).toBe(true);
    expect(await triggers.latestTick(trigger)).toMatchObject({
      tick: T0 + 60_000,
      outcome: "missed",
      runId: null,
    });
    expect(await triggers.latestTick(id())).toBeNull();
  });

  it("event dead letters are kept once per id, newest first", async () => {
    const { triggers } = context.store;
    const letter = (n: number) => ({
      id: `dl-${randomUUID()}`,
      trigger: "flow.event-1",
      workflow: "flow",
      reason: `reason ${n}`,
      messageId: n === 1 ? null : `m-${n}`,
      routingKey: "listing.created",
      body: `{"n":${n}}`,
      createdAt: T0 + n,
    });
    const first = letter(1);
    const second = letter(2);
    await triggers.addTriggerDeadLetter(first);
    await triggers.addTriggerDeadLetter(second);
    await triggers.addTriggerDeadLetter(second);
    const listed = await triggers.listTriggerDeadLetters(100);
    const ours = listed.filter((l) => l.id === first.id || l.id === second.id);
    expect(ours).toEqual([second, first]);
    expect(await triggers.listTriggerDeadLetters(1)).toHaveLength(1);
  });
}
