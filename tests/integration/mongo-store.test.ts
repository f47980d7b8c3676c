import { randomUUID } from "node:crypto";
import { type Db, MongoClient } from "mongodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MongoStore } from "../../engine/store/mongo/mongo-store.ts";
import { serverTraits } from "../../engine/store/mongo/server-traits.ts";
import { executionKey, type NewRun } from "../../engine/store/records.ts";
import { MONGO_SERVERS, type MongoServer, mongoUrlFor } from "./services.ts";

/**
 * What only the MongoDB store has, so the Store contract cannot say it: its
 * indexes, MongoDB's document size limit, the flag a finish leaves while it
 * propagates (what findUnpropagated finds after a crash), and several processes (here,
 * stores with clients of their own) sharing one database. On both servers
 * (services.ts): FerretDB in the store's locked mode, mongo-java-server in its
 * atomic mode.
 */

const T0 = 1_700_000_000_000;
const HELD_UNTIL = T0 + 3_600_000;

/** The server of the describe block running now, and a client of the test's own on it. */
let server: MongoServer;
let client: MongoClient;
const databases: string[] = [];
const open: MongoStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

function freshDatabase(): string {
  const name = `pflow_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  databases.push(name);
  return name;
}

async function started(database: string, options: { database?: string } = {}): Promise<MongoStore> {
  const store = new MongoStore(mongoUrlFor(database, server.url), options);
  open.push(store);
  await store.start();
  return store;
}

function newRun(nodes: number): NewRun {
  return {
    id: randomUUID(),
    workflow: { name: "mongo-only", version: 1 },
    input: { text: "hello" },
    models: {},
    parent: null,
    nodesTotal: nodes,
    deadline: null,
    createdAt: T0,
  };
}

async function claimed(store: MongoStore, key: string): Promise<string> {
  const token = randomUUID();
  await store.queueExecutions([key], T0);
  expect(await store.claimExecution(key, { token, until: HELD_UNTIL }, T0)).not.toBeNull();
  return token;
}

async function indexes(db: Db): Promise<Record<string, { name?: string }[]>> {
  const names = ["runs", "executions", "definitions", "dead_letters", "history", "signals"];
  const listed = await Promise.all(names.map((name) => db.collection(name).indexes()));
  return Object.fromEntries(names.map((name, index) => [name, listed[index] ?? []]));
}

for (const each of MONGO_SERVERS) {
  describe(`MongoStore (MongoDB only) on ${each.name}, ${each.mode} mode`, () => {
    beforeAll(async () => {
      server = each;
      client = new MongoClient(each.url, { serverSelectionTimeoutMS: 5_000 });
      await client.connect();
    });

    afterAll(async () => {
      for (const name of databases.splice(0)) await client.db(name).dropDatabase();
      await client.close();
    });

    it(`is a server the store runs in its ${each.mode} mode on`, async () => {
      const traits = await serverTraits(client.db("admin"));
      expect(traits.atomicUpdates).toBe(each.mode === "atomic");
    });

    // What every count of the store rests on (dependencies, nodes, items, rate
    // slots): a findAndModify returns the document as its own update left it.
    // mongo-java-server did not until its launcher copied replies under a lock.
    it.runIf(each.mode === "atomic")("returns each of many concurrent increments its own count", async () => {
      const counters = client.db(freshDatabase()).collection<{ _id: string; n: number }>("counters");
      for (let round = 0; round < 10; round++) {
        const id = `c${round}`;
        await counters.insertOne({ _id: id, n: 0 });
        const after = await Promise.all(
          Array.from({ length: 40 }, () =>
            counters.findOneAndUpdate({ _id: id }, { $inc: { n: 1 } }, { returnDocument: "after" }),
          ),
        );
        expect(new Set(after.map((doc) => doc?.n)).size).toBe(40);
      }
    });

    it("creates its indexes at start; starting again, or from a second process, changes nothing", async () => {
      const database = freshDatabase();
      const store = await started(database);
      const db = client.db(database);
      const first = await indexes(db);
      const names = (collection: string) => (first[collection] ?? []).map((index) => index.name).sort();
      expect(names("runs")).toEqual(["_id_", "by_deadline", "by_status", "by_workflow", "newest", "outbox"]);
      expect(names("executions")).toEqual([
        "_id_",
        "by_due",
        "by_lease",
        "by_run",
        "by_run_status",
        "by_signal",
        "by_touched",
        "by_wait",
        "outbox",
        "unpropagated",
      ]);
      expect(names("signals")).toEqual(["_id_", "by_consumer", "open", "unsettled"]);
      expect(first.history).toContainEqual(
        expect.objectContaining({ name: "by_seq", key: { runId: 1, seq: 1 }, unique: true }),
      );
      expect(first.definitions).toContainEqual(
        expect.objectContaining({ name: "by_version", key: { kind: 1, name: 1, version: 1 }, unique: true }),
      );

      await store.start();
      await started(database);
      expect(await indexes(db)).toEqual(first);
    });

    it("takes its database from the URL, unless the options name one", async () => {
      const inUrl = freshDatabase();
      const named = freshDatabase();
      const store = await started(inUrl, { database: named });
      const run = await store.createRun(newRun(1), ["a"]);
      expect(
        await client
          .db(named)
          .collection("runs")
          .countDocuments({ _id: run.id as never }),
      ).toBe(1);
      expect(await client.db(inUrl).collection("runs").countDocuments()).toBe(0);
    });

    it("refuses a value too large for a document with an error naming its execution, and changes nothing", async () => {
      const store = await started(freshDatabase());
      const run = await store.createRun(newRun(2), ["a", "b"]);
      const a = executionKey(run.id, "a");
      const token = await claimed(store, a);
      const before = await store.getExecution(a);
      const huge = "x".repeat(17 * 1024 * 1024);

      const finish = store.finishExecution(
        a,
        { status: ["running"], token },
        { status: "succeeded", output: { text: huge } },
        { dependents: ["b"], dependencyCounts: { b: 1 } },
        T0 + 1,
      );
      await expect(finish).rejects.toMatchObject({
        code: "value-too-large",
        retryable: false,
        message: expect.stringContaining(`the output of execution ${a} is 17.0 MB`),
      });
      expect(await store.getExecution(a)).toEqual(before);
      expect(await store.getRun(run.id)).toMatchObject({ nodesDone: 0 });

      // The worker then fails the node with that (small) error, which fits.
      expect(
        await store.finishExecution(
          a,
          { status: ["running"], token },
          { status: "failed", error: { code: "value-too-large", message: "too large" } },
          { dependents: ["b"], dependencyCounts: { b: 1 } },
          T0 + 2,
        ),
      ).toEqual({ ready: ["b"], runComplete: false, items: null });

      await expect(store.createItems(run.id, "b", ["small", huge], T0)).rejects.toThrow(
        `the item ${executionKey(run.id, "b", 1)} is 17.0 MB`,
      );
      expect(await store.getItems(run.id, "b")).toEqual([]);
      await expect(store.createRun({ ...newRun(1), input: huge }, ["a"])).rejects.toThrow(/the input of run/);
    });

    it("findUnpropagated finds finishes interrupted between their transition and its propagation; resumePropagation completes them once", async () => {
      const database = freshDatabase();
      const store = await started(database);
      const interrupted = await store.createRun(newRun(2), ["a", "b"]);
      const finished = await store.createRun(newRun(2), ["a", "b"]);
      const a = executionKey(interrupted.id, "a");
      await claimed(store, a);
      // Step 1 of a finish, as a process that died right after it would leave it.
      await client
        .db(database)
        .collection("executions")
        .updateOne(
          { _id: a as never },
          {
            $set: {
              status: "succeeded",
              output: "null",
              leaseToken: null,
              leaseExpiresAt: null,
              finishedAt: T0 + 5,
              updatedAt: T0 + 5,
              propagated: false,
            },
          },
        );
      const done = executionKey(finished.id, "a");
      const token = await claimed(store, done);
      await store.finishExecution(
        done,
        { status: ["running"], token },
        { status: "succeeded" },
        { dependents: ["b"], dependencyCounts: { b: 1 } },
        T0 + 5,
      );
      await store.close(); // a finish's flag is cleared after it returns; close waits for that

      const again = await started(database);
      expect((await again.findUnpropagated(T0 + 6, 10)).map((execution) => execution.key)).toEqual([a]);
      // Only those untouched since `before`: a finish still propagating is left alone.
      expect(await again.findUnpropagated(T0 + 5, 10)).toEqual([]);
      expect(await again.getRun(interrupted.id)).toMatchObject({ nodesDone: 0 });
      expect(await again.getRun(finished.id)).toMatchObject({ nodesDone: 1 });

      // Resumed: b counts a once, however often the resume is repeated, and a is found no more.
      const propagation = { dependents: ["b"], dependencyCounts: { b: 1 } };
      expect(await again.resumePropagation(a, propagation)).toEqual(["b"]);
      expect(await again.resumePropagation(a, propagation)).toEqual([]);
      expect(await again.getExecution(executionKey(interrupted.id, "b"))).toMatchObject({ depsDone: 1 });
      expect(await again.findUnpropagated(T0 + 6, 10)).toEqual([]);
    });

    it("two processes on one database see each other's writes, and their transitions exclude each other", async () => {
      const database = freshDatabase();
      const [first, second] = [await started(database), await started(database)];
      const run = await first.createRun(newRun(2), ["a", "b"]);
      expect(await second.getRun(run.id)).toEqual(run);
      expect(await second.createRun({ ...newRun(2), id: run.id }, ["a", "b"])).toEqual(run);

      const a = executionKey(run.id, "a");
      expect(await second.queueExecutions([a], T0)).toEqual([a]);
      expect(await first.queueExecutions([a], T0)).toEqual([]);
      const token = randomUUID();
      expect(await first.claimExecution(a, { token, until: HELD_UNTIL }, T0)).not.toBeNull();
      expect(await second.claimExecution(a, { token: randomUUID(), until: HELD_UNTIL }, T0)).toBeNull();
      expect(await second.getExecution(a)).toMatchObject({ status: "running", leaseToken: token });

      expect(
        await second.finishExecution(
          a,
          { status: ["running"], token },
          { status: "succeeded", output: { by: "second" } },
          { dependents: ["b"], dependencyCounts: { b: 1 } },
          T0 + 1,
        ),
      ).toEqual({ ready: ["b"], runComplete: false, items: null });
      expect(await first.getExecution(a)).toMatchObject({ status: "succeeded", output: { by: "second" } });
      expect(await first.getExecution(executionKey(run.id, "b"))).toMatchObject({ depsDone: 1 });
      expect(await first.getRun(run.id)).toMatchObject({ nodesDone: 1 });
    });

    it("definitions registered at once from two processes never share a version", async () => {
      const database = freshDatabase();
      const stores = [await started(database), await started(database)];
      const name = `listing-${randomUUID()}`;
      const registered = await Promise.all(
        Array.from({ length: 6 }, (_, index) =>
          (stores[index % 2] as MongoStore).registerDefinition(
            { kind: "Workflow", name, hash: `hash-${index}`, source: `# ${index}\n`, compiled: { index } },
            T0 + index,
          ),
        ),
      );
      expect(registered.every((result) => result.created)).toBe(true);
      expect(registered.map((result) => result.record.version).sort()).toEqual([1, 2, 3, 4, 5, 6]);
      const versions = await (stores[1] as MongoStore).listDefinitionVersions("Workflow", name);
      expect(versions.map((version) => version.version)).toEqual([1, 2, 3, 4, 5, 6]);
    });

    // Not in the contract: a writer dying between recording events in a document's
    // outbox and numbering them is this adapter's own two-step write.
    it("numbers events a dead writer left in an outbox, once, however many repair them at once", async () => {
      const database = freshDatabase();
      const store = await started(database);
      const second = await started(database);
      const run = await store.createRun(newRun(1), ["a"]);
      const key = executionKey(run.id, "a");
      await store.queueExecutions([key], T0);
      const executions = client.db(database).collection<{ _id: string; outbox?: unknown[] }>("executions");
      // As a claim whose writer died before moving its events: recorded, not numbered.
      await executions.updateOne(
        { _id: key },
        {
          $push: {
            outbox: {
              $each: [
                { id: "dead.0", type: "node.running", at: T0 + 1, data: "{}" },
                { id: "dead.1", type: "attempt.started", at: T0 + 1, data: "{}" },
              ],
            },
          },
        },
      );
      expect(await store.repairHistory(T0, 100)).toBe(0); // not older than the grace period yet
      const repaired = await Promise.all([
        store.repairHistory(T0 + 1_000, 100),
        second.repairHistory(T0 + 1_000, 100),
        store.repairHistory(T0 + 1_000, 100),
      ]);
      expect(repaired.reduce((sum, count) => sum + count, 0)).toBe(2);
      const history = await store.listHistory(run.id, { limit: 100 });
      expect(history.map((event) => `${event.seq} ${event.type}`)).toEqual([
        "1 run.created",
        "2 node.queued",
        "3 node.running",
        "4 attempt.started",
      ]);
      expect((await executions.findOne({ _id: key }))?.outbox).toEqual([]);

      // Died after numbering but before clearing the outbox: numbered again, nothing doubles.
      await executions.updateOne(
        { _id: key },
        { $push: { outbox: { id: "dead.1", type: "attempt.started", at: T0 + 1, data: "{}" } } },
      );
      expect(await second.repairHistory(T0 + 1_000, 100)).toBe(0);
      expect(await store.listHistory(run.id, { limit: 100 })).toHaveLength(4);
      expect((await executions.findOne({ _id: key }))?.outbox).toEqual([]);
    });
  });
}
