import { describe, expect, it } from "vitest";
import { TurnBatch } from "../../../engine/store/mongo/turn-batch.ts";

/** A flush that records what it was sent and answers when told. */
function recorder() {
  const sent: number[][] = [];
  const answers: Array<PromiseWithResolvers<void>> = [];
  const batch = new TurnBatch<number, number>(async (inputs) => {
    sent.push([...inputs]);
    const answer = Promise.withResolvers<void>();
    answers.push(answer);
    await answer.promise;
    return inputs.map((input) => input * 10);
  });
  return { batch, sent, answers };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("TurnBatch", () => {
  it("sends the calls of one turn as one flush and answers each by its index", async () => {
    const { batch, sent, answers } = recorder();
    const results = Promise.all([batch.add(1), batch.add(2), batch.add(3)]);
    await nextTurn();
    expect(sent).toEqual([[1, 2, 3]]);
    answers[0]?.resolve();
    expect(await results).toEqual([10, 20, 30]);
  });

  it("gathers the calls made while a flush is out, and sends them when it has answered", async () => {
    const { batch, sent, answers } = recorder();
    const first = batch.add(1);
    await nextTurn();
    const later = [batch.add(2)];
    await nextTurn();
    later.push(batch.add(3));
    await nextTurn();
    expect(sent).toEqual([[1]]);
    answers[0]?.resolve();
    expect(await first).toBe(10);
    // The next batch is scheduled once the first has answered, and sent after that turn.
    await nextTurn();
    await nextTurn();
    expect(sent).toEqual([[1], [2, 3]]);
    answers[1]?.resolve();
    expect(await Promise.all(later)).toEqual([20, 30]);
  });

  it("rejects every caller of a batch that fails, and sends the next batch all the same", async () => {
    let calls = 0;
    const batch = new TurnBatch<number, number>(async (inputs) => {
      calls++;
      if (calls === 1) throw new Error("the server went away");
      return inputs.map((input) => input + 1);
    });
    const failed = [batch.add(1), batch.add(2)].map((call) =>
      call.then(String, (error: Error) => error.message),
    );
    expect(await Promise.all(failed)).toEqual(["the server went away", "the server went away"]);
    expect(await batch.add(5)).toBe(6);
  });

  it("rejects the callers of a flush that throws before it returns a promise", async () => {
    const batch = new TurnBatch<number, number>(() => {
      throw new Error("refused at once");
    });
    await expect(batch.add(1)).rejects.toThrow("refused at once");
  });
});
