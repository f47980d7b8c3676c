import { afterEach, describe, expect, it } from "vitest";
import { topicMatches } from "../../../engine/triggers/event-bus.ts";
import { MemoryEventBus } from "../../../engine/triggers/memory-event-bus.ts";
import { derivedRunId } from "../../../engine/triggers/run-ids.ts";
import { waitFor } from "../../contract/wait-for.ts";
import { type Harness, harness, workflow } from "../harness.ts";

const LISTINGS = workflow(
  "new-listing",
  `    value: { type: transform, expr: "inputs" }\n`,
  `  inputs: { type: object, required: [listingId], properties: { listingId: { type: string } } }
  triggers:
    - event: { exchange: listings, routingKey: "listing.*" }
      input: { listingId: "{{ event.body.id }}", key: "{{ event.routingKey }}" }
`,
);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function started() {
  h = await harness(LISTINGS);
  await h.engine.triggers.start({ fire: true });
  const { engine } = h;
  return {
    engine,
    publish: (body: unknown, messageId?: string, routingKey = "listing.created") =>
      engine.triggers.events.publish("listings", routingKey, {
        body: JSON.stringify(body),
        ...(messageId ? { messageId } : {}),
      }),
    runs: async () => (await engine.services.store.listRuns({ workflow: "new-listing", limit: 100 })).items,
    letters: () => engine.services.store.triggers.listTriggerDeadLetters(100),
  };
}

describe("event triggers on the in-process bus", () => {
  it("a message starts one run, however often it is delivered, with a run id derived from its messageId", async () => {
    const s = await started();
    await Promise.all([
      s.publish({ id: "L-1" }, "m-1"),
      s.publish({ id: "L-1" }, "m-1"),
      s.publish({ id: "L-1" }, "m-1"),
    ]);
    await s.publish({ id: "L-2" }, "m-2", "listing.updated");
    await s.publish({ id: "L-3" }, "m-3", "order.created"); // not bound
    await waitFor(async () => (await s.runs()).length === 2, "two runs");
    await s.publish({ id: "L-1" }, "m-1"); // later, again
    const runId = derivedRunId("event", "new-listing.event-1", "m-1");
    const run = await s.engine.waitForRun(runId, 5_000);
    expect(run?.status).toBe("succeeded");
    expect(run?.input).toEqual({ listingId: "L-1", key: "listing.created" });
    const runs = await s.runs();
    expect(runs.map((r) => r.id).sort()).toEqual(
      [runId, derivedRunId("event", "new-listing.event-1", "m-2")].sort(),
    );
    const [view] = await s.engine.triggers.list();
    expect(view).toMatchObject({
      kind: "event",
      fired: 2,
      failed: 0,
      detail: { exchange: "listings", routingKey: "listing.*" },
    });
  });

  it("a message without a messageId is dead-lettered with the reason, and starts nothing", async () => {
    const s = await started();
    await s.publish({ id: "L-9" });
    await waitFor(async () => (await s.engine.triggers.list())[0]?.failed === 1, "the failure counted");
    const [letter] = await s.letters();
    expect(letter).toMatchObject({
      trigger: "new-listing.event-1",
      workflow: "new-listing",
      messageId: null,
      routingKey: "listing.created",
      body: '{"id":"L-9"}',
    });
    expect(letter?.reason).toMatch(/^the message has no messageId/);
    expect(await s.runs()).toEqual([]);
    expect((await s.engine.triggers.list())[0]).toMatchObject({ failed: 1, fired: 0 });
  });

  it("a message whose mapped input fails the inputs schema is dead-lettered, and starts nothing", async () => {
    const s = await started();
    await s.publish({ name: "no id" }, "m-bad");
    await waitFor(async () => (await s.engine.triggers.list())[0]?.failed === 1, "the failure counted");
    const [letter] = await s.letters();
    expect(letter?.id).toBe("new-listing.event-1@m-bad");
    expect(letter?.reason).toBe(
      'the mapped input does not fit the inputs schema of workflow "new-listing": /listingId must be string',
    );
    expect(await s.runs()).toEqual([]);
  });

  it("a paused trigger leaves its messages in its queue; resumed, it handles them", async () => {
    const s = await started();
    await s.engine.triggers.setPaused("new-listing.event-1", true);
    await s.publish({ id: "L-5" }, "m-5");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await s.runs()).toEqual([]);
    await s.engine.triggers.setPaused("new-listing.event-1", false);
    await waitFor(async () => (await s.runs()).length === 1, "the run of the waiting message");
  });
});

describe("the in-process bus", () => {
  it("routes as a topic exchange does", () => {
    expect(topicMatches("listing.created", "listing.created")).toBe(true);
    expect(topicMatches("listing.*", "listing.created")).toBe(true);
    expect(topicMatches("listing.*", "listing.created.eu")).toBe(false);
    expect(topicMatches("listing.#", "listing.created.eu")).toBe(true);
    expect(topicMatches("listing.#", "listing")).toBe(true);
    expect(topicMatches("#", "anything.at.all")).toBe(true);
    expect(topicMatches("*.created", "order.created")).toBe(true);
    expect(topicMatches("*.created", "created")).toBe(false);
  });

  it("redelivers a message whose handler threw, and handles at most prefetch at once", async () => {
    const bus = new MemoryEventBus();
    let inHand = 0;
    let most = 0;
    let throws = 1;
    const handled: string[] = [];
    await bus.subscribe({ exchange: "x", routingKey: "#", queue: "q", prefetch: 2 }, async (message) => {
      inHand++;
      most = Math.max(most, inHand);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inHand--;
      if (message.messageId === "a" && throws-- > 0) throw new Error("store down");
      handled.push(message.messageId ?? "");
      return { ack: true };
    });
    for (const id of ["a", "b", "c", "d"]) await bus.publish("x", "k", { body: "{}", messageId: id });
    await waitFor(() => handled.length === 4, "every message handled");
    expect(handled.sort()).toEqual(["a", "b", "c", "d"]);
    expect(most).toBe(2);
    await bus.close();
  });
});
