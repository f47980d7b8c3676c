import { ExecutionError } from "../errors.ts";
import { InputRejected } from "../runner.ts";
import { TERMINAL_RUN } from "../store/records.ts";
import { evaluateTemplate } from "../template-eval.ts";
import { type WaitingStart, waitDeadline } from "./waiting.ts";

/**
 * A workflow node starts its child run, linked to it (the child's `parent`, the
 * node's `childRunId`), and waits; the child's end finishes the node. An input
 * the child workflow refuses fails the node, not retryably.
 */
export async function startChild(start: WaitingStart): Promise<void> {
  const { services, runner, claimed, context } = start;
  const { node, run, execution, token } = claimed;
  if (node.type !== "workflow") throw new Error(`not a workflow node: ${node.id}`);
  // A stand-in (pflow test) answers for the whole child run; its error is the node's.
  const double = await services.doubles?.answer({ services, run, node, execution });
  if (double !== undefined) {
    await start.finish({ status: "succeeded", output: double.output });
    return;
  }
  const input = await evaluateTemplate(node.input, context, services.config.expressions);
  const child = await runner
    .startRun({
      workflow: node.workflow.name,
      ...(node.workflow.version === null ? {} : { version: node.workflow.version }),
      input,
      parent: { runId: run.id, nodeId: execution.nodeId, item: execution.item },
    })
    .catch((error: unknown) => {
      throw error instanceof InputRejected
        ? ExecutionError.nonRetryable("child-input", error.message)
        : error;
    });
  if (TERMINAL_RUN.has(child.status)) return; // it ended at once, and has finished this node already
  const waiting = { childRunId: child.id, until: waitDeadline(start) };
  if (await services.store.startWaiting(execution.key, token, waiting, services.clock())) return;
  // The lease was lost meanwhile (another worker holds the node now): this child is an orphan.
  const current = await services.store.getExecution(execution.key);
  if (current?.status === "running" || current?.status === "queued") await runner.cancelRun(child.id);
}
