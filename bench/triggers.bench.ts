import { performance } from "node:perf_hooks";
import type { EventTrigger } from "../compiler/index.ts";
import { activeTriggers } from "../engine/triggers/active.ts";
import { eventHandler } from "../engine/triggers/event-trigger.ts";
import { TriggerStarter } from "../engine/triggers/starter.ts";
import { checkSignature, webhookSignature } from "../engine/triggers/webhook.ts";
import { embeddedEngine } from "./embedded-engine.ts";

/**
 * What a trigger costs on the embedded default, per message, handled one after
 * the other (the engine's workers run the runs meanwhile): an event message to
 * its started run (a run-exists read, the input mapped and checked, the run
 * created and its roots queued), and the same message redelivered (one read, no
 * run); and the webhook signature check on its own. One pass:
 * `npm run bench:triggers`.
 */
const MESSAGES = 2_000;
const WORKFLOW = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: on-listing }
spec:
  inputs: { type: object, required: [listingId], properties: { listingId: { type: string } } }
  triggers:
    - event: { exchange: listings, routingKey: "listing.*", prefetch: 16 }
      input: { listingId: "{{ event.body.id }}" }
  nodes:
    echo: { type: transform, expr: "inputs" }
`;

const { engine, close } = await embeddedEngine([{ path: "bench.yaml", text: WORKFLOW }]);
const [active] = await activeTriggers(engine.services.store, engine.services.catalog);
if (active?.trigger.kind !== "event") throw new Error("no event trigger");
const handle = eventHandler(
  active as typeof active & { trigger: EventTrigger },
  engine.services,
  new TriggerStarter(engine.services, engine.runner),
);
const message = (i: number) => ({
  body: JSON.stringify({ id: `L-${i}` }),
  contentType: "application/json",
  headers: {},
  routingKey: "listing.created",
  messageId: `m-${i}`,
});

/** Each message handled to its ack, one after the other: the cost of one. */
async function handleAll(): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < MESSAGES; i++) await handle(message(i));
  return performance.now() - start;
}

const fresh = await handleAll();
const redelivered = await handleAll(); // the same messages again: every one a redelivery
const runs = (await engine.services.store.listRuns({ workflow: "on-listing", limit: MESSAGES + 1 })).items
  .length;
await close();

const body = Buffer.from(JSON.stringify({ lead: { email: "ana@example.com", notes: "x".repeat(2000) } }));
const timestamp = String(Math.floor(Date.now() / 1000));
const signature = `sha256=${webhookSignature("s3cret-0123456789", timestamp, body)}`;
const checks = 20_000;
const hmacStart = performance.now();
for (let i = 0; i < checks; i++)
  checkSignature("s3cret-0123456789", { body, signature, timestamp }, Date.now());
const hmacUs = ((performance.now() - hmacStart) * 1000) / checks;

console.log(
  JSON.stringify(
    {
      messages: MESSAGES,
      startMsPerMessage: Number((fresh / MESSAGES).toFixed(3)),
      redeliveryMsPerMessage: Number((redelivered / MESSAGES).toFixed(3)),
      runsAfterRedelivery: runs,
      webhookSignatureCheckMicroseconds: Number(hmacUs.toFixed(1)),
    },
    null,
    2,
  ),
);
