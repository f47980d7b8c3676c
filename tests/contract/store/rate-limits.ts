import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { executionKey } from "../../../engine/store/records.ts";
import {
  BOOM,
  claim,
  createRun,
  expectUnaffected,
  HELD_UNTIL,
  type StoreContext,
  seedEveryState,
  sorted,
  T0,
} from "./seed.ts";

/** Deployment-wide rate limits (call slots, token budgets), and deferring an execution to wait for one. */
export function rateLimitsContract(context: StoreContext): void {
  const INTERVAL = 250;

  it("takeRateSlot paces a key's calls one interval apart, from now", async () => {
    const { store } = context;
    const key = `model-${randomUUID()}`;
    expect(await store.takeRateSlot(key, INTERVAL, T0)).toEqual({ startAt: T0, tokensFreeAt: 0 });
    expect((await store.takeRateSlot(key, INTERVAL, T0)).startAt).toBe(T0 + INTERVAL);
    expect((await store.takeRateSlot(key, INTERVAL, T0 + 10)).startAt).toBe(T0 + 2 * INTERVAL);
    // Another key has a schedule of its own.
    expect((await store.takeRateSlot(`other-${randomUUID()}`, INTERVAL, T0)).startAt).toBe(T0);
  });

  it("takeRateSlot does not save up the slots of an idle period: after one, the next call starts now", async () => {
    const { store } = context;
    const key = `model-${randomUUID()}`;
    await store.takeRateSlot(key, INTERVAL, T0);
    const later = T0 + 100 * INTERVAL;
    expect((await store.takeRateSlot(key, INTERVAL, later)).startAt).toBe(later);
    expect((await store.takeRateSlot(key, INTERVAL, later)).startAt).toBe(later + INTERVAL);
  });

  it("takeRateSlot gives concurrent callers distinct slots, one interval apart", async () => {
    const { store } = context;
    const key = `model-${randomUUID()}`;
    const slots = await Promise.all(Array.from({ length: 20 }, () => store.takeRateSlot(key, INTERVAL, T0)));
    expect(sorted(slots.map((slot) => slot.startAt))).toEqual(
      Array.from({ length: 20 }, (_, i) => T0 + i * INTERVAL),
    );
  });

  it("chargeRateTokens adds to the token budget's end, or to now once that is past; slots report it", async () => {
    const { store } = context;
    const key = `model-${randomUUID()}`;
    await store.chargeRateTokens(key, 500, T0);
    expect(await store.takeRateSlot(key, INTERVAL, T0)).toEqual({ startAt: T0, tokensFreeAt: T0 + 500 });
    await store.chargeRateTokens(key, 300, T0 + 100);
    expect((await store.takeRateSlot(key, INTERVAL, T0 + 100)).tokensFreeAt).toBe(T0 + 800);
    await store.chargeRateTokens(key, 200, T0 + 10_000);
    expect(await store.takeRateSlot(key, INTERVAL, T0 + 10_000)).toEqual({
      startAt: T0 + 10_000,
      tokensFreeAt: T0 + 10_200,
    });
  });

  it("chargeRateTokens keeps fractions of a millisecond (a few tokens of a large budget)", async () => {
    const { store } = context;
    const key = `model-${randomUUID()}`;
    await store.chargeRateTokens(key, 0.25, T0);
    await store.chargeRateTokens(key, 0.5, T0);
    expect((await store.takeRateSlot(key, 0.06, T0)).tokensFreeAt).toBeCloseTo(T0 + 0.75, 3);
  });

  it("chargeRateTokens from concurrent callers adds up", async () => {
    const { store } = context;
    const key = `model-${randomUUID()}`;
    await Promise.all(Array.from({ length: 10 }, () => store.chargeRateTokens(key, 100, T0)));
    expect((await store.takeRateSlot(key, INTERVAL, T0)).tokensFreeAt).toBe(T0 + 1_000);
  });

  it("deferExecution hands a claim back as if it had not happened, keeping the error and the reserved slot", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["a"]);
    const a = executionKey(run.id, "a");
    const first = await claim(store, a, T0);
    expect(await store.rescheduleExecution(a, first, { notBefore: T0 + 10, error: BOOM }, T0 + 1)).toBe(true);
    const token = randomUUID();
    expect(await store.claimExecution(a, { token, until: HELD_UNTIL }, T0 + 10)).toMatchObject({
      attempt: 2,
      attemptsTotal: 2,
    });

    expect(
      await store.deferExecution(a, randomUUID(), { notBefore: T0 + 5_000, rateSlotAt: T0 + 5_000 }, T0 + 20),
    ).toBe(false);
    expect(
      await store.deferExecution(a, token, { notBefore: T0 + 5_000, rateSlotAt: T0 + 5_000 }, T0 + 20),
    ).toBe(true);
    expect(await store.getExecution(a)).toMatchObject({
      status: "queued",
      attempt: 1,
      attemptsTotal: 1,
      notBefore: T0 + 5_000,
      rateSlotAt: T0 + 5_000,
      leaseToken: null,
      error: BOOM,
    });
    // The same token cannot defer it again.
    expect(await store.deferExecution(a, token, { notBefore: T0 + 6_000, rateSlotAt: null }, T0 + 21)).toBe(
      false,
    );

    expect(await store.claimExecution(a, { token: randomUUID(), until: HELD_UNTIL }, T0 + 4_999)).toBeNull();
    const again = randomUUID();
    expect(await store.claimExecution(a, { token: again, until: HELD_UNTIL }, T0 + 5_000)).toMatchObject({
      attempt: 2,
      attemptsTotal: 2,
      rateSlotAt: T0 + 5_000,
    });
    // A new attempt needs a new slot.
    expect(
      await store.rescheduleExecution(a, again, { notBefore: T0 + 6_000, error: BOOM }, T0 + 5_001),
    ).toBe(true);
    expect(await store.getExecution(a)).toMatchObject({ status: "queued", rateSlotAt: null });
    await expectUnaffected(store, seeded);
  });
}
