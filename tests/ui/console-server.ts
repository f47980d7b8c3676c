import { executionKey } from "../../engine/store/records.ts";
import { taskFor } from "../../engine/tasks.ts";
import { createMetrics } from "../../server/metrics.ts";
import { allRoutes } from "../../server/routes/index.ts";
import { type TestServer, testServer } from "../server/harness.ts";

/**
 * The server the browser tests open: every route of `pflow serve` (the API and
 * the console at /ui) on the embedded adapters, with API keys, and a few
 * workflows made to show the console's cases: a run that streams and succeeds,
 * one whose model always fails (retried, so it has attempts in two rounds),
 * and one to dead-letter.
 */
export const DEFINITIONS = [
  `apiVersion: pflow/v1
kind: Model
metadata: { name: writer, description: Writes greetings }
spec:
  versions:
    "1": { provider: mock, latency: 5000ms, response: { text: "{{ 'Dear ' & input.name & ', welcome to the bright flat by the sea, with a view of the harbour and the old town.' }}" } }
    "2": { provider: mock, latency: 100ms, response: { text: "{{ 'Hi ' & input.name }}" } }
  aliases:
    production: { version: "1", canary: { version: "2", percent: 10 } }
`,
  `apiVersion: pflow/v1
kind: Model
metadata: { name: flaky }
spec:
  versions:
    "1": { provider: mock, latency: 50ms, failures: 1000, response: { text: never } }
`,
  `apiVersion: pflow/v1
kind: Model
metadata: { name: slow }
spec:
  versions:
    "1": { provider: mock, latency: 300ms, response: { text: done } }
`,
  `apiVersion: pflow/v1
kind: Workflow
metadata:
  name: greeting
  description: Greets a new tenant
  labels: { team: lettings }
spec:
  inputs:
    type: object
    required: [name]
    properties:
      name: { type: string, minLength: 1, description: The tenant's name }
      tone: { type: string, enum: [warm, formal], default: warm }
      rooms: { type: integer, minimum: 0, default: 2 }
  nodes:
    prepare:
      type: transform
      expr: "inputs.name & ' (' & inputs.tone & ')'"
    draft:
      type: model
      # Pinned to version 1, not writer@production: that alias's canary sends a
      # tenth of runs (by a hash of the run id) to the 100 ms version 2, and the
      # live journey needs the 5 s model to watch it running.
      model: writer@1
      stream: true
      input: { name: "{{ nodes.prepare.output }}" }
    finish:
      type: transform
      expr: "{ 'letter': nodes.draft.output.text }"
`,
  `apiVersion: pflow/v1
kind: Workflow
metadata: { name: fragile, description: Calls a model that always fails }
spec:
  nodes:
    prepare:
      type: transform
      expr: "'ready'"
    call:
      type: model
      model: flaky
      retry: { maxAttempts: 2, backoff: fixed, delay: 20ms }
      input: { q: "{{ nodes.prepare.output }}" }
`,
  `apiVersion: pflow/v1
kind: Workflow
metadata: { name: once }
spec:
  nodes:
    call: { type: model, model: slow, input: { q: 1 } }
`,
];

export function consoleServer(): Promise<TestServer> {
  return testServer({ definitions: DEFINITIONS, routes: allRoutes(createMetrics()) });
}

/** A run whose `call` node is dead-lettered, as the broker does after too many deliveries; the letter's id. */
export async function deadLetteredRun(server: TestServer): Promise<{ runId: string; letterId: string }> {
  const run = await server.engine.startRun({ workflow: "once", input: {} });
  const { plan } = await server.engine.services.catalog.plan("once");
  await server.engine.deadLetter(taskFor(run.id, executionKey(run.id, "call"), plan), "handler crashed", 5);
  const letters = await server.engine.services.store.listDeadLetters(100);
  const letter = letters.find((l) => l.runId === run.id);
  if (!letter) throw new Error("no dead letter was kept");
  return { runId: run.id, letterId: letter.id };
}
