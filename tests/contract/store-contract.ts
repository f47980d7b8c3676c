import { afterEach, beforeEach, describe } from "vitest";
import type { Store } from "../../engine/store/store.ts";
import { concurrencyContract } from "./store/concurrency.ts";
import { executionsContract } from "./store/executions.ts";
import { finishContract } from "./store/finish.ts";
import { historyContract } from "./store/history.ts";
import { itemsContract } from "./store/items.ts";
import { keepingContract } from "./store/keeping.ts";
import { rateLimitsContract } from "./store/rate-limits.ts";
import { recoveryContract } from "./store/recovery.ts";
import { runsContract } from "./store/runs.ts";
import type { StoreContext } from "./store/seed.ts";
import { triggersContract } from "./store/triggers.ts";

/**
 * The Store contract: what every Store adapter (SQLite, MongoDB) must do, tested
 * only through the port. Each test gets a fresh store from `makeStore`, which
 * must be on its own empty database (a new file, a new database name), started
 * here and closed after the test. Ids are randomUUID()s all the same, and most
 * tests seed a bystander run with an execution in every state, then check that
 * the operation under test left it exactly as it was.
 */
export function describeStoreContract(name: string, makeStore: () => Promise<Store> | Store): void {
  describe(`Store contract: ${name}`, () => {
    let current: Store | undefined;
    const context: StoreContext = {
      get store(): Store {
        if (!current) throw new Error("no store: the contract's beforeEach did not run");
        return current;
      },
    };

    beforeEach(async () => {
      current = await makeStore();
      await current.start();
    });

    afterEach(async () => {
      await current?.close();
      current = undefined;
    });

    describe("runs", () => runsContract(context));
    describe("executions", () => executionsContract(context));
    describe("finishing and propagation", () => finishContract(context));
    describe("map items", () => itemsContract(context));
    describe("rerun, sweeping and cancellation", () => recoveryContract(context));
    describe("concurrent calls", () => concurrencyContract(context));
    describe("rate limits", () => rateLimitsContract(context));
    describe("run history", () => historyContract(context));
    describe("cache, definitions, idempotency keys, dead letters", () => keepingContract(context));
    describe("triggers", () => triggersContract(context));
  });
}
