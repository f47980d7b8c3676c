import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import {
  CALL_LATENCY_BOUNDS_MS,
  type DeadLetter,
  type DefinitionRecord,
  type ModelCallSample,
} from "../../../engine/store/records.ts";
import { type StoreContext, T0 } from "./seed.ts";

function definition(kind: DefinitionRecord["kind"], name: string, hash: string) {
  return {
    kind,
    name,
    hash,
    source: `apiVersion: pflow/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n# ${hash}\n`,
    compiled: { name, hash, nodes: [{ id: "a" }] },
  };
}

function letter(createdAt: number): DeadLetter {
  const runId = randomUUID();
  return {
    id: randomUUID(),
    executionKey: `${runId}/draft`,
    runId,
    nodeId: "draft",
    reason: "handler threw: boom",
    deliveries: 5,
    createdAt,
  };
}

function sample(
  model: string,
  minute: number,
  calls: number,
  errors: number,
  bucket: number,
): ModelCallSample {
  const latency = new Array<number>(CALL_LATENCY_BOUNDS_MS.length + 1).fill(0);
  latency[bucket] = calls;
  return { model, minute, calls, errors, timeouts: errors > 0 ? 1 : 0, latency };
}

/** What the store keeps besides runs: the result cache, definitions, idempotency keys, dead letters, model calls. */
export function keepingContract(context: StoreContext): void {
  it("model call statistics add up per model version and minute, and sum from `since`", async () => {
    const { store } = context;
    const minute = (n: number) => T0 + n * 60_000;
    await store.recordModelCalls([
      sample("writer@1", minute(0), 3, 1, 2),
      sample("writer@2", minute(0), 5, 0, 4),
    ]);
    await store.recordModelCalls([
      sample("writer@1", minute(0), 2, 0, 3),
      sample("writer@1", minute(1), 4, 2, 11),
    ]);
    await store.recordModelCalls([]);
    const all = await store.modelCalls(["writer@1", "writer@2", "writer@3"], minute(0));
    expect(Object.keys(all).sort()).toEqual(["writer@1", "writer@2"]);
    expect(all["writer@1"]).toEqual({
      calls: 9,
      errors: 3,
      timeouts: 2,
      latency: [0, 0, 3, 2, 0, 0, 0, 0, 0, 0, 0, 4],
    });
    expect(all["writer@2"]?.calls).toBe(5);
    expect((await store.modelCalls(["writer@1"], minute(1)))["writer@1"]).toMatchObject({
      calls: 4,
      errors: 2,
    });
    expect(await store.modelCalls(["writer@1"], minute(2))).toEqual({});
    expect(await store.modelCalls([], minute(0))).toEqual({});
  });

  it("model call statistics recorded at once by many callers lose nothing", async () => {
    const { store } = context;
    await Promise.all(
      Array.from({ length: 12 }, () => store.recordModelCalls([sample("ranker@1", T0, 1, 0, 1)])),
    );
    expect((await store.modelCalls(["ranker@1"], T0))["ranker@1"]).toMatchObject({ calls: 12, errors: 0 });
  });

  it("ping answers", async () => {
    await expect(context.store.ping()).resolves.toBeUndefined();
  });

  it("the cache misses, serves what was put, and serves the latest value put", async () => {
    const { store } = context;
    const key = `cache-${randomUUID()}`;
    expect(await store.getCached(key, T0)).toBeUndefined();
    await store.putCached(key, { text: "A bright flat", tags: ["sunny", 2] }, null);
    expect(await store.getCached(key, T0)).toEqual({ text: "A bright flat", tags: ["sunny", 2] });
    await store.putCached(key, { text: "Another" }, T0 + 1_000);
    expect(await store.getCached(key, T0)).toEqual({ text: "Another" });
    expect(await store.getCached(`cache-${randomUUID()}`, T0)).toBeUndefined();
  });

  it("a cached value is not served at or after its expiry", async () => {
    const { store } = context;
    const key = `cache-${randomUUID()}`;
    await store.putCached(key, "value", T0 + 1_000);
    expect(await store.getCached(key, T0 + 999)).toBe("value");
    expect(await store.getCached(key, T0 + 1_000)).toBeUndefined();
    expect(await store.getCached(key, T0 + 5_000)).toBeUndefined();
    // Put again with a later expiry, it is served again.
    await store.putCached(key, "fresh", T0 + 10_000);
    expect(await store.getCached(key, T0 + 5_000)).toBe("fresh");
  });

  it("a cached value with no expiry never expires", async () => {
    const { store } = context;
    const key = `cache-${randomUUID()}`;
    await store.putCached(key, [1, 2, 3], null);
    expect(await store.getCached(key, Number.MAX_SAFE_INTEGER)).toEqual([1, 2, 3]);
  });

  it("falsy cached values are hits, not misses", async () => {
    const { store } = context;
    for (const value of [0, false, "", null, []]) {
      const key = `cache-${randomUUID()}`;
      await store.putCached(key, value, null);
      expect(await store.getCached(key, T0)).toEqual(value);
    }
  });

  it("registerDefinition keeps who registered each version", async () => {
    const { store } = context;
    const name = `actor-${randomUUID().slice(0, 8)}`;
    const first = await store.registerDefinition(
      { ...definition("Model", name, "hash-1"), actor: "key-a" },
      T0,
    );
    expect(first.record.actor).toBe("key-a");
    await store.registerDefinition(definition("Model", name, "hash-2"), T0 + 1);
    const versions = await store.listDefinitionVersions("Model", name);
    expect(versions.map((v) => v.actor)).toEqual(["key-a", null]);
  });

  it("registerDefinition keeps why each version was registered", async () => {
    const { store } = context;
    const name = `reason-${randomUUID().slice(0, 8)}`;
    const first = await store.registerDefinition(
      { ...definition("Model", name, "hash-1"), actor: "key-a", reason: "canary 2 looks good" },
      T0,
    );
    expect(first.record.reason).toBe("canary 2 looks good");
    await store.registerDefinition(definition("Model", name, "hash-2"), T0 + 1);
    const versions = await store.listDefinitionVersions("Model", name);
    expect(versions.map((v) => v.reason)).toEqual(["canary 2 looks good", null]);
    expect(await store.getDefinition("Model", name, 1)).toMatchObject({ reason: "canary 2 looks good" });
  });

  it("registerDefinitionIfLatest registers only on top of the version the change was computed from", async () => {
    const { store } = context;
    const name = `cas-${randomUUID().slice(0, 8)}`;
    const other = `cas-other-${randomUUID().slice(0, 8)}`;
    await store.registerDefinition(definition("Model", other, "hash-1"), T0);
    // 0: none registered yet.
    const v1 = await store.registerDefinitionIfLatest(definition("Model", name, "hash-1"), 0, T0);
    expect(v1).toMatchObject({ record: { version: 1, hash: "hash-1" }, created: true });
    const v2 = await store.registerDefinitionIfLatest(
      { ...definition("Model", name, "hash-2"), actor: "canary-analysis", reason: "errors" },
      1,
      T0 + 1,
    );
    expect(v2).toEqual({
      record: {
        ...definition("Model", name, "hash-2"),
        version: 2,
        createdAt: T0 + 1,
        actor: "canary-analysis",
        reason: "errors",
      },
      created: true,
    });
    // Computed from version 1, which is no longer the latest: a conflict, and nothing written.
    expect(await store.registerDefinitionIfLatest(definition("Model", name, "hash-3"), 1, T0 + 2)).toBeNull();
    // Even when the change is the one already made.
    expect(await store.registerDefinitionIfLatest(definition("Model", name, "hash-2"), 1, T0 + 2)).toBeNull();
    // Ahead of the latest, or on a definition that does not exist: a conflict too.
    expect(await store.registerDefinitionIfLatest(definition("Model", name, "hash-3"), 5, T0 + 2)).toBeNull();
    expect(
      await store.registerDefinitionIfLatest(definition("Model", `missing-${randomUUID()}`, "h"), 1, T0 + 2),
    ).toBeNull();
    // The latest's own content on top of it is not a new version.
    expect(await store.registerDefinitionIfLatest(definition("Model", name, "hash-2"), 2, T0 + 3)).toEqual({
      record: v2?.record,
      created: false,
    });
    expect((await store.listDefinitionVersions("Model", name)).map((v) => v.hash)).toEqual([
      "hash-1",
      "hash-2",
    ]);
    // Another definition, of another name or kind, is unaffected.
    expect((await store.listDefinitionVersions("Model", other)).map((v) => v.version)).toEqual([1]);
    expect(await store.getDefinition("Workflow", name)).toBeNull();
  });

  it("registerDefinition versions a definition by its hash", async () => {
    const { store } = context;
    const name = `listing-${randomUUID()}`;
    const v1 = await store.registerDefinition(definition("Workflow", name, "hash-1"), T0);
    expect(v1).toEqual({
      record: {
        ...definition("Workflow", name, "hash-1"),
        version: 1,
        createdAt: T0,
        actor: null,
        reason: null,
      },
      created: true,
    });

    const same = await store.registerDefinition(definition("Workflow", name, "hash-1"), T0 + 10);
    expect(same).toEqual({ record: v1.record, created: false });

    const v2 = await store.registerDefinition(definition("Workflow", name, "hash-2"), T0 + 20);
    expect(v2).toEqual({
      record: {
        ...definition("Workflow", name, "hash-2"),
        version: 2,
        createdAt: T0 + 20,
        actor: null,
        reason: null,
      },
      created: true,
    });

    // Only the latest version's hash counts: going back to hash-1 is a new version.
    const v3 = await store.registerDefinition(definition("Workflow", name, "hash-1"), T0 + 30);
    expect(v3.created).toBe(true);
    expect(v3.record.version).toBe(3);

    // The same name of another kind is another definition.
    const model = await store.registerDefinition(definition("Model", name, "hash-9"), T0 + 40);
    expect(model).toMatchObject({ record: { kind: "Model", version: 1 }, created: true });
  });

  it("getDefinition returns the latest version, or the one asked for", async () => {
    const { store } = context;
    const name = `listing-${randomUUID()}`;
    const v1 = await store.registerDefinition(definition("Workflow", name, "hash-1"), T0);
    const v2 = await store.registerDefinition(definition("Workflow", name, "hash-2"), T0 + 1);
    expect(await store.getDefinition("Workflow", name)).toEqual(v2.record);
    expect(await store.getDefinition("Workflow", name, 1)).toEqual(v1.record);
    expect(await store.getDefinition("Workflow", name, 2)).toEqual(v2.record);
    expect(await store.getDefinition("Workflow", name, 3)).toBeNull();
    expect(await store.getDefinition("Model", name)).toBeNull();
    expect(await store.getDefinition("Workflow", `missing-${randomUUID()}`)).toBeNull();
  });

  it("listDefinitions returns the latest version of each definition of a kind", async () => {
    const { store } = context;
    const [a, b] = [`a-${randomUUID()}`, `b-${randomUUID()}`];
    await store.registerDefinition(definition("Workflow", a, "1"), T0);
    const a2 = await store.registerDefinition(definition("Workflow", a, "2"), T0 + 1);
    const b1 = await store.registerDefinition(definition("Workflow", b, "1"), T0 + 2);
    const model = await store.registerDefinition(definition("Model", a, "1"), T0 + 3);

    const byName = (records: DefinitionRecord[]) =>
      records
        .filter((record) => record.name === a || record.name === b)
        .sort((x, y) => (x.name < y.name ? -1 : 1));
    expect(byName(await store.listDefinitions("Workflow"))).toEqual([a2.record, b1.record]);
    expect(byName(await store.listDefinitions("Model"))).toEqual([model.record]);
  });

  it("listDefinitionVersions returns every version of one definition, oldest first", async () => {
    const { store } = context;
    const name = `listing-${randomUUID()}`;
    const v1 = await store.registerDefinition(definition("Workflow", name, "hash-1"), T0);
    await store.registerDefinition(definition("Workflow", name, "hash-1"), T0 + 1); // not a new version
    const v2 = await store.registerDefinition(definition("Workflow", name, "hash-2"), T0 + 2);
    const v3 = await store.registerDefinition(definition("Workflow", name, "hash-3"), T0 + 3);
    // Another kind of the same name and another name are other definitions.
    await store.registerDefinition(definition("Model", name, "hash-9"), T0 + 4);
    await store.registerDefinition(definition("Workflow", `other-${randomUUID()}`, "hash-1"), T0 + 5);

    expect(await store.listDefinitionVersions("Workflow", name)).toEqual([v1.record, v2.record, v3.record]);
    expect(await store.listDefinitionVersions("Model", name)).toHaveLength(1);
    expect(await store.listDefinitionVersions("Workflow", `missing-${randomUUID()}`)).toEqual([]);
  });

  it("an idempotency key belongs to the first run that claimed it", async () => {
    const { store } = context;
    const key = `idem-${randomUUID()}`;
    const [first, second] = [randomUUID(), randomUUID()];
    expect(await store.claimIdempotencyKey(key, first, T0)).toBe(first);
    expect(await store.claimIdempotencyKey(key, second, T0 + 1)).toBe(first);
    expect(await store.claimIdempotencyKey(key, first, T0 + 2)).toBe(first);
    const other = `idem-${randomUUID()}`;
    expect(await store.claimIdempotencyKey(other, second, T0 + 3)).toBe(second);
  });

  it("dead letters are listed newest first, and taken once", async () => {
    const { store } = context;
    const letters = [letter(T0 + 10), letter(T0 + 30), letter(T0 + 20)];
    for (const each of letters) await store.addDeadLetter(each);
    const [oldest, newest, middle] = letters as [DeadLetter, DeadLetter, DeadLetter];

    const ours = (listed: DeadLetter[]) =>
      listed.filter((each) => letters.some((candidate) => candidate.id === each.id));
    expect(ours(await store.listDeadLetters(100))).toEqual([newest, middle, oldest]);
    expect(await store.listDeadLetters(2)).toHaveLength(2);

    expect(await store.takeDeadLetter(middle.id)).toEqual(middle);
    expect(await store.takeDeadLetter(middle.id)).toBeNull();
    expect(await store.takeDeadLetter(randomUUID())).toBeNull();
    expect(ours(await store.listDeadLetters(100))).toEqual([newest, oldest]);
  });
}
