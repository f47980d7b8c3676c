import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chatReply, type FakeServer, startFakeServer } from "../engine/providers/fake-openai-server.ts";
import { expectPaced } from "../helpers/pacing.ts";
import { Cluster } from "./cluster.ts";

/**
 * A model's limits across processes: an API process and two `pflow worker`
 * processes on RabbitMQ and the MongoDB-wire server, calling a real
 * OpenAI-compatible HTTP server that records when each call arrived and how
 * many it answered at once.
 */
let server: FakeServer;
let cluster: Cluster | undefined;

beforeAll(async () => {
  server = await startFakeServer();
});
afterAll(() => server.close());
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
  server.reset();
});

function definitions(modelSpec: string): string {
  return `apiVersion: pflow/v1
kind: Model
metadata: { name: shared }
spec:
${modelSpec}  versions:
    "1": { provider: openai, endpoint: "${server.url}/v1", model: m }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: ask }
spec:
  nodes:
    answer: { type: model, model: shared, input: { prompt: "{{ inputs.text }}" } }
`;
}

async function twoWorkers(modelSpec: string): Promise<Cluster> {
  // Leases longer than the cluster's 2 s: these tests count calls, and a lease
  // that lapses on a loaded machine (its renewal late) would rightly call again.
  cluster = await Cluster.start(definitions(modelSpec), {
    PFLOW_EGRESS_ALLOW_LOOPBACK: "true",
    PFLOW_LEASE_MS: "15000",
  });
  await cluster.serve({ workers: false });
  await cluster.worker();
  await cluster.worker();
  return cluster;
}

describe("a model's limits across worker processes", () => {
  it("requestsPerMinute paces the calls of both workers as one, and waiting costs no attempt", async () => {
    server.respond({ ...chatReply("ok"), delayMs: 20 });
    // 300 a minute: one call every 200 ms, whichever process makes it.
    const c = await twoWorkers("  rateLimit: { requestsPerMinute: 300 }\n");
    const started = Date.now();
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, i) => c.startRun("ask", { text: `q${i}` })),
    );
    for (const id of runs) expect(await c.finished(id)).toBe("succeeded");

    const at = server.requests.map((request) => request.receivedAt).sort((a, b) => a - b);
    expect(at).toHaveLength(10);
    // Ten slots 200 ms apart from the first, taken after the runs started.
    expectPaced(at, started, 200);
    for (const id of runs) {
      const [execution] = await c.store.getExecutions(id);
      expect(execution).toMatchObject({ status: "succeeded", attemptsTotal: 1 });
    }
  });

  it("concurrency bounds each worker process: never more calls at once than workers × concurrency", async () => {
    server.respond({ ...chatReply("ok"), delayMs: 300 });
    const c = await twoWorkers("  concurrency: 1\n");
    const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => c.startRun("ask", { text: `q${i}` })));
    for (const id of runs) expect(await c.finished(id)).toBe("succeeded");
    expect(server.requests).toHaveLength(8);
    expect(server.maxInFlight).toBeLessThanOrEqual(2);
  });
});
