import { isTimestamp } from "../../compiler/wait-nodes.ts";
import { ExecutionError } from "../errors.ts";
import type { WaitKind } from "../store/records.ts";
import { evaluateTemplate } from "../template-eval.ts";
import { deliverSignal } from "../waits/signals.ts";
import type { WaitingStart } from "./waiting.ts";

/**
 * A wait or approval node moves to `waiting` and lets go of everything: the
 * lease, the worker, the message. What ends the wait is state in the Store: a
 * signal (waits/signals.ts), a decision (waits/approvals.ts), or its timer,
 * which the sweeper of whichever process is alive fires once (waits/timers.ts).
 *
 * Times count from the node's first start (`startedAt`, kept across
 * redeliveries), so a start that runs twice sets the same timer.
 */
export async function startWait(start: WaitingStart): Promise<void> {
  const { services, runner, claimed, context } = start;
  const { node, execution, token, run, plan } = claimed;
  if (node.type !== "wait" && node.type !== "approval") throw new Error(`not a wait node: ${node.id}`);
  // A stand-in (pflow test) answers for the signal, the timer or the decision; its error is the node's.
  const double = await services.doubles?.answer({ services, run, node, execution });
  if (double !== undefined) {
    await start.finish({ status: "succeeded", output: double.output });
    return;
  }
  const now = services.clock();
  const since = execution.startedAt ?? now;
  const timeoutAt = node.timeoutMs === null ? null : since + node.timeoutMs;
  let kind: WaitKind = "approval";
  let until = timeoutAt;
  if (node.type === "wait" && node.signal !== null) {
    kind = "signal";
  } else if (node.type === "wait") {
    kind = "timer";
    const fireAt =
      node.forMs !== null
        ? since + node.forMs
        : timestampOf(
            await evaluateTemplate(
              node.until ?? { t: "literal", value: null },
              context,
              services.config.expressions,
            ),
            node.id,
          );
    // A timeout shorter than the wait ends it first (timers.ts tells the two apart).
    until = timeoutAt === null ? fireAt : Math.min(fireAt, timeoutAt);
  }
  const signal = kind === "signal" && node.type === "wait" ? node.signal : null;
  if (!(await services.store.waits.startWait(execution.key, token, { kind, signal, until }, now))) return;
  if (signal === null) return;
  // A signal sent before the node started is waiting for it.
  const waiting = {
    ...execution,
    status: "waiting" as const,
    waitKind: kind,
    waitSignal: signal,
    signalId: null,
  };
  await deliverSignal(services, runner, run, plan, waiting);
}

function timestampOf(value: unknown, nodeId: string): number {
  if (!isTimestamp(value)) {
    throw ExecutionError.nonRetryable(
      "wait-until",
      `wait "${nodeId}": until must give an ISO 8601 timestamp with a time zone, but gave ${JSON.stringify(value) ?? "nothing"}`,
    );
  }
  return Date.parse(value);
}
