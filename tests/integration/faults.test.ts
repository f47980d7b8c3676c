import amqp from "amqplib";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectWholeHistory } from "../contract/history-checks.ts";
import { Cluster } from "./cluster.ts";
import { AMQP_URL, MONGO_SERVERS, type MongoServer, restartRabbitMq, startMongo } from "./services.ts";

/**
 * Fault tests of the production topology: real `pflow serve` and `pflow worker`
 * processes on RabbitMQ and the MongoDB-wire server, killed, duplicated,
 * poisoned and cut off. Each test ends with the run finished and nothing run
 * twice that must not be. On both MongoDB-wire servers (services.ts): the
 * store's locked mode on FerretDB, its atomic mode on mongo-java-server.
 */
const DEFINITIONS = `apiVersion: pflow/v1
kind: Model
metadata: { name: slow }
spec:
  versions:
    "1": { provider: mock, latency: 2500ms, response: { step: "{{ input.step }}" } }
---
apiVersion: pflow/v1
kind: Model
metadata: { name: quick }
spec:
  versions:
    "1": { provider: mock, latency: 150ms, response: { value: "{{ input.value }}" } }
---
apiVersion: pflow/v1
kind: Model
metadata: { name: hang }
spec:
  versions:
    "1": { provider: mock, latency: 10m, response: { never: true } }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: chain }
spec:
  nodes:
    one: { type: model, model: slow, input: { step: 1 } }
    two: { type: model, model: slow, input: { step: "{{ nodes.one.output.step + 1 }}" } }
    three: { type: model, model: quick, input: { value: "{{ nodes.two.output.step + 1 }}" } }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: fan }
spec:
  nodes:
    each:
      type: map
      items: "{{ inputs.values }}"
      concurrency: 8
      node: { type: model, model: quick, input: { value: "{{ item }}" } }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: poison }
spec:
  nodes:
    stuck: { type: model, model: hang, input: { value: 1 } }
`;

const clusters: Cluster[] = [];

afterEach(async () => {
  for (const cluster of clusters.splice(0)) await cluster.close();
});

/** The server of the describe block running now. */
let server: MongoServer;

async function cluster(): Promise<Cluster> {
  const made = await Cluster.start(DEFINITIONS, {}, server.url);
  clusters.push(made);
  return made;
}

/**
 * The run's history is whole: events a killed process left unnumbered are
 * numbered by a sweeper after its grace period, so this waits for it.
 */
async function historyIsWhole(c: Cluster, runId: string) {
  let last: unknown;
  const events = await c
    .until(
      async () => {
        try {
          return await expectWholeHistory(c.store, runId, "run.succeeded");
        } catch (error) {
          last = error;
          return undefined;
        }
      },
      "the run's history to be whole",
      30_000,
    )
    .catch(() => {
      throw last;
    });
  return events;
}

async function executionOf(c: Cluster, runId: string, nodeId: string) {
  return c.store.getExecution(`${runId}/${nodeId}`);
}

for (const each of MONGO_SERVERS) {
  describe(`fault tests against RabbitMQ and ${each.name} (${each.mode} mode)`, { timeout: 120_000 }, () => {
    beforeAll(() => {
      server = each;
    });

    it("kill -9 of a worker mid-node: the node is delivered again and completes once", async () => {
      const c = await cluster();
      await c.serve({ workers: false });
      const doomed = await c.worker();
      const runId = await c.startRun("chain");
      await c.until(
        async () => ((await executionOf(c, runId, "one"))?.status === "running" ? true : undefined),
        "node one to be running",
      );
      await c.kill(doomed);
      await c.worker();
      expect(await c.finished(runId)).toBe("succeeded");
      const one = await executionOf(c, runId, "one");
      expect(one).toMatchObject({ status: "succeeded", attemptsTotal: 2, output: { step: 1 } });
      const run = await c.request(`/v1/runs/${runId}`);
      expect(run.json.output ?? run.json.nodes.three.output).toBeTruthy();
      expect((await executionOf(c, runId, "three"))?.output).toEqual({ value: 3 });
      const history = await historyIsWhole(c, runId);
      const ofOne = history.filter((event) => event.nodeId === "one" && event.type.startsWith("attempt."));
      expect(ofOne.map((event) => event.type)).toEqual([
        "attempt.started",
        "attempt.failed",
        "attempt.started",
        "attempt.succeeded",
      ]);
      expect(ofOne[1]?.data.error).toMatchObject({ code: "lease-expired" });
    });

    it("SIGTERM of a worker mid-node: it exits within its grace period, releasing the node to another worker at once", async () => {
      const c = await cluster();
      await c.serve({ workers: false });
      const stopping = await c.worker();
      const runId = await c.startRun("poison");
      await c.until(
        async () => ((await executionOf(c, runId, "stuck"))?.status === "running" ? true : undefined),
        "the node to be running",
      );
      const next = await c.worker();
      expect(await c.kill(stopping, "SIGTERM")).toBe(0);
      // Released, not left to its lease: queued at once, then taken by the other worker.
      const released = await executionOf(c, runId, "stuck");
      expect(released?.error).toMatchObject({ code: "worker-stopped" });
      await c.until(async () => {
        const stuck = await executionOf(c, runId, "stuck");
        return stuck?.status === "running" && stuck.attemptsTotal === 2 ? true : undefined;
      }, "the other worker to take it");
      expect((await executionOf(c, runId, "stuck"))?.leasesLost).toBe(0);
      await c.kill(next);
    });

    it("kill -9 of every process mid-run, then a restart: the run finishes, finished nodes are kept", async () => {
      const c = await cluster();
      const api = await c.serve();
      const worker = await c.worker();
      const runId = await c.startRun("chain");
      await c.until(
        async () => ((await executionOf(c, runId, "two"))?.status === "running" ? true : undefined),
        "node two to be running",
      );
      const one = await executionOf(c, runId, "one");
      await c.kill(api);
      await c.kill(worker);
      await c.serve();
      await c.worker();
      expect(await c.finished(runId)).toBe("succeeded");
      // Node one finished before the crash and was not run again.
      expect(await executionOf(c, runId, "one")).toMatchObject({
        attemptsTotal: 1,
        finishedAt: one?.finishedAt,
      });
      expect((await executionOf(c, runId, "three"))?.output).toEqual({ value: 3 });
      await historyIsWhole(c, runId);
    });

    it("a RabbitMQ restart mid-run: publishers and consumers recover, and the run finishes", async () => {
      const c = await cluster();
      await c.serve();
      await c.worker();
      const values = Array.from({ length: 40 }, (_, index) => index);
      const runId = await c.startRun("fan", { values });
      await c.until(async () => {
        const items = await c.store.getItems(runId, "each");
        return items.filter((item) => item.status === "succeeded").length >= 5 ? true : undefined;
      }, "some items to finish");
      restartRabbitMq();
      expect(await c.finished(runId, 90_000)).toBe("succeeded");
      const items = await c.store.getItems(runId, "each");
      expect(items.map((item) => item.output)).toEqual(values.map((value) => ({ value })));
      await historyIsWhole(c, runId);
      // The API process reconnects on its own backoff, which may end after the run
      // (the workers did its work): it becomes ready again, if not at once.
      await c.until(
        async () => ((await c.request("/readyz")).status === 200 ? true : undefined),
        "the API process to be ready again",
        30_000,
      );
    });

    it("the same task delivered several times: one transition, run once", async () => {
      const c = await cluster();
      await c.serve();
      await c.worker();
      const runId = await c.startRun("chain");
      // Two more copies of node one's task, straight into its queue, while it is queued or running.
      const connection = await amqp.connect(AMQP_URL);
      const channel = await connection.createConfirmChannel();
      const body = Buffer.from(JSON.stringify([`${runId}/one`, runId, "one", "model.slow"]));
      for (let copy = 0; copy < 2; copy++)
        channel.sendToQueue(`${c.prefix}.tasks.default`, body, { persistent: true });
      await channel.waitForConfirms();
      await connection.close();
      expect(await c.finished(runId)).toBe("succeeded");
      expect(await executionOf(c, runId, "one")).toMatchObject({ status: "succeeded", attemptsTotal: 1 });
      const history = await historyIsWhole(c, runId);
      expect(
        history.filter((event) => event.nodeId === "one" && event.type === "attempt.started"),
      ).toHaveLength(1);
      expect((await c.request("/v1/dead-letters")).json.items).toEqual([]);
    });

    it("a poison task that kills every worker taking it: dead-lettered after the delivery limit, the run fails with the reason, and it can be replayed", async () => {
      const c = await cluster();
      await c.serve({ workers: false });
      const runId = await c.startRun("poison");
      // PFLOW_MAX_DELIVERIES is 3: three workers die holding it; the fourth gives up on it.
      for (let death = 1; death <= 3; death++) {
        const worker = await c.worker();
        await c.until(async () => {
          const stuck = await executionOf(c, runId, "stuck");
          return stuck?.status === "running" && stuck.attemptsTotal === death ? true : undefined;
        }, `delivery ${death} to be taken`);
        await c.kill(worker);
      }
      await c.worker();
      expect(await c.finished(runId)).toBe("failed");
      const run = await c.request(`/v1/runs/${runId}`);
      expect(JSON.stringify(run.json)).toContain("dead-lettered");
      const letters = (await c.request("/v1/dead-letters")).json.items as Array<Record<string, unknown>>;
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ runId, nodeId: "stuck", deliveries: 3 });
      expect(letters[0]?.reason).toMatch(/died|lease/);

      const replay = await c.request(
        `/v1/dead-letters/${encodeURIComponent(String(letters[0]?.id))}/replay`,
        {
          method: "POST",
        },
      );
      expect(replay.status).toBe(202);
      expect((await c.request("/v1/dead-letters")).json.items).toEqual([]);
      await c.until(
        async () => ((await executionOf(c, runId, "stuck"))?.status === "running" ? true : undefined),
        "the replayed node to run again",
      );
    });

    it("MongoDB unreachable for a few seconds: /readyz says so, and work resumes after", async () => {
      const c = await cluster();
      await c.serve();
      const runId = await c.startRun("chain");
      await c.until(
        async () => ((await executionOf(c, runId, "one"))?.status === "running" ? true : undefined),
        "node one to be running",
      );
      server.stop();
      try {
        const ready = await c.until(
          async () => {
            const response = await c.request("/readyz");
            return response.status === 503 ? response : undefined;
          },
          "/readyz to report the store",
          20_000,
        );
        expect(ready.json.detail).toMatch(/store/);
        await new Promise((resolve) => setTimeout(resolve, 3_000));
      } finally {
        startMongo();
      }
      // The driver finds the server again at its next heartbeat; what /readyz
      // last said is kept so that a timeout says which check still failed.
      let lastReady = "";
      await c
        .until(
          async () => {
            const response = await c.request("/readyz");
            lastReady = JSON.stringify(response.json);
            return response.status === 200 ? true : undefined;
          },
          "/readyz to recover",
          60_000,
        )
        .catch((error: Error) => {
          throw new Error(`${error.message}; /readyz last said ${lastReady}`);
        });
      const status = await c.finished(runId, 90_000);
      expect(status, JSON.stringify((await c.request(`/v1/runs/${runId}`)).json)).toBe("succeeded");
      // A new run starts and finishes too.
      const next = await c.startRun("chain");
      const nextStatus = await c.finished(next, 60_000);
      expect(nextStatus, JSON.stringify((await c.request(`/v1/runs/${next}`)).json)).toBe("succeeded");
    });
  });
}
