import type { MockAnswer, MockFields } from "../../compiler/index.ts";
import { ExecutionError } from "../../engine/errors.ts";
import type { AttemptResult } from "../../engine/executors/attempt.ts";
import type { DoubleQuery, Doubles } from "../../engine/executors/doubles.ts";
import { modelReference } from "../../engine/executors/model.ts";
import { describeViolations } from "../../engine/user-schemas.ts";

/**
 * The stand-ins of one test case: its `mocks` answer for nodes of the workflow
 * under test by id (a map's for each of its items), its `models` for every
 * call to a model by name (fallbacks and sub-workflows included). A model node
 * left to a model that is not `mock` would reach the network: it fails, and
 * the case fails with it whatever it expects (`blocked`).
 */
export class CaseDoubles implements Doubles {
  readonly #workflow: string;
  readonly #mocks: Readonly<Record<string, MockFields>>;
  readonly #models: Readonly<Record<string, MockFields>>;
  /** Why the case reached for the network, once per node: each fails the case. */
  readonly blocked: string[] = [];

  constructor(
    workflow: string,
    mocks: Readonly<Record<string, MockFields>> = {},
    models: Readonly<Record<string, MockFields>> = {},
  ) {
    this.#workflow = workflow;
    this.#mocks = mocks;
    this.#models = models;
  }

  async answer({ services, run, node, execution }: DoubleQuery): Promise<AttemptResult | undefined> {
    const byId =
      run.workflow.name === this.#workflow && Object.hasOwn(this.#mocks, execution.nodeId)
        ? this.#mocks[execution.nodeId]
        : undefined;
    if (byId !== undefined) {
      const result = respond(byId, execution.attemptsTotal);
      if (node.type === "model") checkModelOutput(services, node, result.output, `mocks.${execution.nodeId}`);
      return result;
    }
    if (node.type !== "model") return undefined;
    const pinned = run.models[modelReference(node, execution.modelIndex)];
    if (pinned === undefined) return undefined; // the executor says what is wrong
    const name = pinned.slice(0, pinned.lastIndexOf("@"));
    const byModel = Object.hasOwn(this.#models, name) ? this.#models[name] : undefined;
    if (byModel !== undefined) {
      const result = { ...respond(byModel, execution.attempt), model: pinned };
      checkModelOutput(services, node, result.output, `models.${name}`);
      return result;
    }
    const { version } = await services.catalog.modelVersion(pinned);
    if (version.provider === "mock") return undefined;
    const where =
      execution.item === null ? `node "${node.id}"` : `node "${execution.nodeId}" (item ${execution.item})`;
    const inChild = run.workflow.name === this.#workflow ? "" : ` of sub-workflow "${run.workflow.name}"`;
    const message =
      `${where}${inChild} calls ${pinned}, a model of provider ${version.provider}: tests never reach the network; ` +
      `mock the node (mocks.${execution.nodeId}) or the model (models.${name}), or point it at a mock version`;
    if (!this.blocked.includes(message)) this.blocked.push(message);
    throw ExecutionError.nonRetryable("network-blocked", message);
  }
}

/** The answer for attempt `n` (1-based): `outputs` in order, the last one repeating; else the one answer. */
function respond(mock: MockFields, n: number): AttemptResult {
  const answer: MockAnswer = mock.outputs
    ? (mock.outputs[Math.min(n, mock.outputs.length) - 1] as MockAnswer)
    : mock;
  if (answer.error !== undefined) {
    const { code, message, retryable } = answer.error;
    throw new ExecutionError(code, message, retryable ?? true);
  }
  return { output: answer.output ?? null, cached: false };
}

/** A model node's outputSchema holds for a mocked answer as for a model's: breaking it is retryable. */
function checkModelOutput(
  services: DoubleQuery["services"],
  node: DoubleQuery["node"],
  output: unknown,
  mock: string,
): void {
  const violations = services.schemas.validate(node.outputSchema, output);
  if (violations.length > 0) {
    throw ExecutionError.retryable(
      "output-schema",
      `the answer of ${mock} breaks the outputSchema of node "${node.id}": ${describeViolations(violations)}`,
    );
  }
}
