import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { executionKey, type RunRecord } from "../../../engine/store/records.ts";
import type { Store } from "../../../engine/store/store.ts";
import { BOOM, createRun, expectUnaffected, type StoreContext, seedEveryState, T0 } from "./seed.ts";

/** Runs: creation, conditional transitions, listing and the recovery queries. */
export function runsContract(context: StoreContext): void {
  it("createRun creates a pending run and one pending execution per node", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const id = randomUUID();
    const parent = { runId: randomUUID(), nodeId: "fan", item: 3 };
    const run = await store.createRun(
      {
        id,
        workflow: { name: "listing", version: 2 },
        input: { notes: "three rooms" },
        models: { "writer@production": "writer@1" },
        parent,
        nodesTotal: 3,
        deadline: T0 + 60_000,
        createdAt: T0,
      },
      ["a", "b", "c"],
    );
    expect(run).toMatchObject({
      id,
      workflow: { name: "listing", version: 2 },
      status: "pending",
      input: { notes: "three rooms" },
      error: null,
      models: { "writer@production": "writer@1" },
      parent,
      failing: false,
      nodesTotal: 3,
      nodesDone: 0,
      usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
      createdAt: T0,
      startedAt: null,
      finishedAt: null,
      deadline: T0 + 60_000,
    });
    expect(run.output ?? null).toBeNull();
    expect(await store.getRun(id)).toEqual(run);

    const executions = await store.getExecutions(id);
    expect(executions.map((execution) => execution.nodeId).sort()).toEqual(["a", "b", "c"]);
    for (const execution of executions) {
      expect(execution).toMatchObject({
        key: executionKey(id, execution.nodeId),
        runId: id,
        item: null,
        status: "pending",
        attempt: 0,
        modelIndex: 0,
        attemptsTotal: 0,
        leasesLost: 0,
        leaseToken: null,
        leaseExpiresAt: null,
        itemsTotal: 0,
        depsDone: 0,
        error: null,
        cached: false,
        model: null,
        usage: null,
        childRunId: null,
        finishedAt: null,
      });
      expect(await store.getExecution(execution.key)).toEqual(execution);
    }
    await expectUnaffected(store, seeded);
  });

  it("createRun is idempotent: the same run again, no duplicate executions, missing ones inserted", async () => {
    const { store } = context;
    const first = await createRun(store, ["a", "b"], { nodesTotal: 3 });
    await store.queueExecutions([executionKey(first.id, "a")], T0);

    const again = await store.createRun(
      {
        id: first.id,
        workflow: first.workflow,
        input: first.input,
        models: first.models,
        parent: first.parent,
        nodesTotal: first.nodesTotal,
        deadline: first.deadline,
        createdAt: T0 + 5_000,
      },
      ["a", "b", "c"],
    );
    expect(again).toEqual(first);
    expect(await store.getRun(first.id)).toEqual(first);

    const executions = await store.getExecutions(first.id);
    expect(executions.map((execution) => execution.key).sort()).toEqual(
      ["a", "b", "c"].map((node) => executionKey(first.id, node)).sort(),
    );
    const status = Object.fromEntries(executions.map((execution) => [execution.nodeId, execution.status]));
    expect(status).toEqual({ a: "queued", b: "pending", c: "pending" });
  });

  it("getRun and getExecution return null for what does not exist", async () => {
    const { store } = context;
    expect(await store.getRun(randomUUID())).toBeNull();
    expect(await store.getExecution(executionKey(randomUUID(), "a"))).toBeNull();
    expect(await store.getExecutions(randomUUID())).toEqual([]);
  });

  it("getExecutions filters by node and leaves out map items unless asked", async () => {
    const { store } = context;
    const run = await createRun(store, ["a", "b", "m"]);
    await store.createItems(run.id, "m", [1, 2], T0);
    const nodes = await store.getExecutions(run.id);
    expect(nodes.map((execution) => execution.nodeId).sort()).toEqual(["a", "b", "m"]);
    expect(nodes.every((execution) => execution.item === null)).toBe(true);

    const some = await store.getExecutions(run.id, { nodeIds: ["a", "m"] });
    expect(some.map((execution) => execution.key).sort()).toEqual(
      [executionKey(run.id, "a"), executionKey(run.id, "m")].sort(),
    );

    const all = await store.getExecutions(run.id, { items: true });
    expect(all.map((execution) => execution.key).sort()).toEqual(
      [
        executionKey(run.id, "a"),
        executionKey(run.id, "b"),
        executionKey(run.id, "m"),
        executionKey(run.id, "m", 0),
        executionKey(run.id, "m", 1),
      ].sort(),
    );
  });

  it("transitionRun moves a run only from one of the expected statuses, applying the patch", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["a"]);

    const started = await store.transitionRun(run.id, ["pending"], { status: "running", startedAt: T0 + 1 });
    expect(started).toEqual({ ...run, status: "running", startedAt: T0 + 1 });
    expect(await store.getRun(run.id)).toEqual(started);

    // Not in `from`: null, nothing changed.
    expect(
      await store.transitionRun(run.id, ["pending"], { status: "cancelled", finishedAt: T0 + 2 }),
    ).toBeNull();
    expect(await store.transitionRun(run.id, [], { status: "cancelled" })).toBeNull();
    expect(await store.getRun(run.id)).toEqual(started);

    const failed = await store.transitionRun(run.id, ["pending", "running"], {
      status: "failed",
      error: BOOM,
      finishedAt: T0 + 3,
    });
    expect(failed).toEqual({ ...started, status: "failed", error: BOOM, finishedAt: T0 + 3 });

    // A finished run is not finished again.
    expect(
      await store.transitionRun(run.id, ["pending", "running"], { status: "succeeded", output: { x: 1 } }),
    ).toBeNull();
    expect(await store.getRun(run.id)).toEqual(failed);
    await expectUnaffected(store, seeded);
  });

  it("transitionRun clears a field given as null", async () => {
    const { store } = context;
    const run = await createRun(store, ["a"]);
    await store.transitionRun(run.id, ["pending"], { status: "running", startedAt: T0 });
    await store.transitionRun(run.id, ["running"], {
      status: "failed",
      error: BOOM,
      output: { partial: true },
      finishedAt: T0 + 5,
    });
    // A rerun takes the run back to running, as if it had not finished.
    const again = await store.transitionRun(run.id, ["failed"], {
      status: "running",
      error: null,
      output: null,
      finishedAt: null,
    });
    expect(again).toMatchObject({ status: "running", error: null, startedAt: T0, finishedAt: null });
    expect(again?.output ?? null).toBeNull();
    expect(await store.getRun(run.id)).toEqual(again);
  });

  it("transitionRun sets the output of a succeeded run", async () => {
    const { store } = context;
    const run = await createRun(store, ["a"]);
    await store.transitionRun(run.id, ["pending"], { status: "running", startedAt: T0 });
    const done = await store.transitionRun(run.id, ["running"], {
      status: "succeeded",
      output: { listing: "A bright flat", words: 3 },
      finishedAt: T0 + 10,
    });
    expect(done).toMatchObject({
      status: "succeeded",
      output: { listing: "A bright flat", words: 3 },
      error: null,
      startedAt: T0,
      finishedAt: T0 + 10,
    });
    expect(await store.getRun(run.id)).toEqual(done);
  });

  it("markRunFailing sets failing, idempotently, on that run only", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["a"]);
    const other = await createRun(store, ["a"]);
    await store.markRunFailing(run.id);
    await store.markRunFailing(run.id);
    expect(await store.getRun(run.id)).toEqual({ ...run, failing: true });
    expect(await store.getRun(other.id)).toEqual(other);
    await expectUnaffected(store, seeded);
  });

  it("listRuns lists newest first, filtered by workflow and by status", async () => {
    const { store } = context;
    const workflow = `listing-${randomUUID()}`;
    const otherWorkflow = `other-${randomUUID()}`;
    const ours: RunRecord[] = [];
    const others: RunRecord[] = [];
    for (let index = 0; index < 5; index++) {
      ours.push(
        await createRun(store, ["a"], {
          workflow: { name: workflow, version: 1 },
          createdAt: T0 + index * 10,
        }),
      );
      if (index % 2 === 0) {
        others.push(
          await createRun(store, ["a"], {
            workflow: { name: otherWorkflow, version: 3 },
            createdAt: T0 + index * 10 + 1,
          }),
        );
      }
    }
    const [r0, r1, r2, r3, r4] = ours.map((run) => run.id) as [string, string, string, string, string];
    await store.transitionRun(r1, ["pending"], { status: "running", startedAt: T0 + 100 });
    await store.transitionRun(r3, ["pending"], { status: "running", startedAt: T0 + 100 });
    await store.transitionRun(others[0]?.id ?? "", ["pending"], { status: "running", startedAt: T0 + 100 });

    const ids = async (query: Parameters<Store["listRuns"]>[0]) => {
      const page = await store.listRuns(query);
      expect(page.next).toBeNull();
      return page.items.map((run) => run.id);
    };
    expect(await ids({ workflow, limit: 100 })).toEqual([r4, r3, r2, r1, r0]);
    expect(await ids({ workflow: otherWorkflow, limit: 100 })).toEqual(others.map((run) => run.id).reverse());
    expect(await ids({ workflow, status: "running", limit: 100 })).toEqual([r3, r1]);
    expect(await ids({ workflow, status: "pending", limit: 100 })).toEqual([r4, r2, r0]);
    expect(await ids({ workflow, status: "succeeded", limit: 100 })).toEqual([]);

    const running = await store.listRuns({ status: "running", limit: 100 });
    expect(running.items.every((run) => run.status === "running")).toBe(true);
    expect(running.items.map((run) => run.id)).toEqual([r3, r1, others[0]?.id]);

    const page = await store.listRuns({ workflow, limit: 100 });
    expect(page.items[0]).toEqual(await store.getRun(r4));
  });

  it("listRuns pages with a cursor that covers every run exactly once, even as new runs arrive", async () => {
    const { store } = context;
    const workflow = `paged-${randomUUID()}`;
    const created: string[] = [];
    for (let index = 0; index < 7; index++) {
      created.push(
        (await createRun(store, ["a"], { workflow: { name: workflow, version: 1 }, createdAt: T0 + index }))
          .id,
      );
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { items: RunRecord[]; next: string | null } = await store.listRuns({
        workflow,
        limit: 3,
        cursor,
      });
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((run) => run.id));
      cursor = page.next;
      pages++;
      if (pages === 1) {
        // A run created between two pages neither repeats nor hides the ones already listed.
        await createRun(store, ["a"], { workflow: { name: workflow, version: 1 }, createdAt: T0 + 100 });
      }
      expect(pages).toBeLessThan(10);
    } while (cursor !== null);
    expect(seen.slice(0, 3)).toEqual([...created].reverse().slice(0, 3));
    const originals = seen.filter((id) => created.includes(id));
    expect(originals).toEqual([...created].reverse());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("findOverdueRuns returns running runs whose deadline has passed, and only those", async () => {
    const { store } = context;
    const now = T0 + 60_000;
    const make = async (deadline: number | null, status: "pending" | "running" | "succeeded") => {
      const run = await createRun(store, ["a"], { deadline });
      if (status !== "pending")
        await store.transitionRun(run.id, ["pending"], { status: "running", startedAt: T0 });
      if (status === "succeeded")
        await store.transitionRun(run.id, ["running"], { status, finishedAt: T0 + 1 });
      return run.id;
    };
    const overdue = [await make(T0 + 1_000, "running"), await make(now - 1, "running")];
    await make(now + 60_000, "running");
    await make(null, "running");
    await make(T0 + 1_000, "pending");
    await make(T0 + 1_000, "succeeded");

    const found = await store.findOverdueRuns(now, 100);
    expect(found.map((run) => run.id).sort()).toEqual([...overdue].sort());
    expect(found.every((run) => run.status === "running")).toBe(true);
    expect(await store.findOverdueRuns(now, 1)).toHaveLength(1);
  });

  it("transitionRun sets a new deadline or clears it, and findOverdueRuns follows it", async () => {
    const { store } = context;
    const now = T0 + 60_000;
    const run = await createRun(store, ["a"], { deadline: T0 + 1_000 });
    await store.transitionRun(run.id, ["pending"], { status: "running", startedAt: T0 });
    await store.transitionRun(run.id, ["running"], { status: "timed_out", finishedAt: T0 + 1_000 });
    // A retry starts a new round with the whole timeout again: no longer overdue.
    const retried = await store.transitionRun(run.id, ["timed_out"], {
      status: "running",
      finishedAt: null,
      deadline: now + 1_000,
    });
    expect(retried?.deadline).toBe(now + 1_000);
    expect(await store.getRun(run.id)).toMatchObject({ deadline: now + 1_000 });
    expect(await store.findOverdueRuns(now, 100)).toEqual([]);
    expect(await store.findOverdueRuns(now + 1_001, 100)).toEqual([expect.objectContaining({ id: run.id })]);
    const unbounded = await store.transitionRun(run.id, ["running"], { deadline: null });
    expect(unbounded?.deadline).toBeNull();
    expect(await store.findOverdueRuns(now + 1_001, 100)).toEqual([]);
  });

  it("findUnfinishedRuns returns pending and running runs, and no finished one", async () => {
    const { store } = context;
    const pending = await createRun(store, ["a"]);
    const running = await createRun(store, ["a"]);
    await store.transitionRun(running.id, ["pending"], { status: "running", startedAt: T0 });
    for (const status of ["succeeded", "failed", "cancelled", "timed_out"] as const) {
      const run = await createRun(store, ["a"]);
      await store.transitionRun(run.id, ["pending"], { status, finishedAt: T0 });
    }
    const found = await store.findUnfinishedRuns(100);
    expect(found.map((run) => run.id).sort()).toEqual([pending.id, running.id].sort());
    expect(await store.findUnfinishedRuns(1)).toHaveLength(1);
  });
}
