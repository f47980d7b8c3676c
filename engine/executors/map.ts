import { ExecutionError } from "../errors.ts";
import { taskFor } from "../tasks.ts";
import { evaluateTemplate } from "../template-eval.ts";
import { type WaitingStart, waitDeadline } from "./waiting.ts";

/**
 * A map node evaluates its items, creates one execution per item (its value is
 * the item's `item`) and queues the first `concurrency` of them; then it waits,
 * holding no lease, and its items finish it: each item that ends queues the
 * next, and the last one ends the map (see Runner).
 */
export async function startMap(start: WaitingStart): Promise<void> {
  const { services, claimed, context } = start;
  const { node, run, plan, execution, token } = claimed;
  if (node.type !== "map") throw new Error(`not a map node: ${node.id}`);
  const { store, broker, clock, config } = services;
  const items = await evaluateTemplate(node.items, context, config.expressions);
  if (!Array.isArray(items)) {
    const got = items === null ? "null" : typeof items;
    throw ExecutionError.nonRetryable(
      "map-items",
      `map "${node.id}": items must be an array, but the expression gave ${got}`,
    );
  }
  if (items.length === 0) {
    await start.finish({ status: "succeeded", output: [] });
    return;
  }
  await store.createItems(run.id, node.id, items, clock());
  const waiting = { itemsTotal: items.length, until: waitDeadline(start) };
  if (!(await store.startWaiting(execution.key, token, waiting, clock()))) return;
  const queued = await store.queueNextItems(run.id, node.id, node.concurrency, clock());
  await broker.publish(queued.map((key) => taskFor(run.id, key, plan)));
}
