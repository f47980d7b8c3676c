import pLimit from "p-limit";
import pino from "pino";
import {
  type DefinitionSet,
  type ExecutionPlan,
  type PlanNode,
  parseDuration,
  type RetryPolicy,
  type TestCase,
  type WorkflowTest,
} from "../../compiler/index.ts";
import { createEngine } from "../../engine/create.ts";
import { InputRejected } from "../../engine/runner.ts";
import type { ExecutionRecord } from "../../engine/store/records.ts";
import { UserSchemas } from "../../engine/user-schemas.ts";
import { CaseDoubles } from "./case-doubles.ts";
import { differences, type Observed, type ObservedNode } from "./expectations.ts";

/**
 * `pflow test`'s runner: every case of every test in this process, each on a
 * throwaway engine of its own (an in-memory SQLite store and the in-process
 * queue), so cases share nothing and run side by side. Retries happen at once
 * (their backoff is not waited for: attempts count the same, only faster), and
 * nothing reaches the network: unmocked models that are not `mock` fail the
 * node before their provider is called (CaseDoubles).
 */
export interface CaseResult {
  readonly test: string;
  readonly workflow: string;
  readonly case: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly passed: boolean;
  /** One line per difference; empty when the case passed. */
  readonly failures: readonly string[];
  readonly durationMs: number;
}

export interface RunOptions {
  /** Cases at once (default 8). */
  readonly parallel?: number;
  /** A case that sets no timeout of its own fails after this long (default 30 s). */
  readonly caseTimeoutMs?: number;
}

export const DEFAULT_CASE_TIMEOUT_MS = 30_000;

export async function runTests(
  set: DefinitionSet,
  tests: readonly WorkflowTest[],
  options: RunOptions = {},
): Promise<CaseResult[]> {
  const registered = withoutRetryDelays(set);
  // One compiler of the workflows' schemas for all cases: each would otherwise compile them again.
  const shared = { ...options, schemas: new UserSchemas() };
  const limit = pLimit(options.parallel ?? 8);
  const jobs = tests.flatMap((test) =>
    test.cases.map((testCase) => limit(() => runCase(registered, test, testCase, shared))),
  );
  return Promise.all(jobs);
}

async function runCase(
  set: DefinitionSet,
  test: WorkflowTest,
  testCase: TestCase,
  options: RunOptions & { readonly schemas: UserSchemas },
): Promise<CaseResult> {
  const started = performance.now();
  const result = (failures: readonly string[]): CaseResult => ({
    test: test.name,
    workflow: test.workflow.name,
    case: testCase.name,
    file: test.file,
    line: testCase.line,
    column: testCase.column,
    passed: failures.length === 0,
    failures,
    durationMs: Math.round(performance.now() - started),
  });
  const doubles = new CaseDoubles(test.workflow.name, testCase.mocks, testCase.models);
  const { engine, close } = await createEngine({
    storeUrl: "sqlite::memory:",
    brokerUrl: "memory:",
    logger: pino({ level: "silent" }),
    config: { shutdownGraceMs: 0 },
    doubles,
    schemas: options.schemas,
  });
  try {
    await engine.services.catalog.register(set, Date.now(), "pflow test");
    await engine.start({ recoverAllLeases: true });
    let runId: string;
    try {
      const run = await engine.startRun({
        workflow: test.workflow.name,
        ...(test.workflow.version === null ? {} : { version: test.workflow.version }),
        input: testCase.input ?? {},
      });
      runId = run.id;
    } catch (error) {
      if (!(error instanceof InputRejected)) throw error;
      // No run: what a case can check of it is that it was refused, and why.
      const refusal: Observed = {
        status: "rejected",
        output: null,
        error: { code: "input-rejected", message: error.message },
        inputs: testCase.input ?? {},
        nodes: {},
      };
      return result(await differences(testCase.expect, refusal));
    }
    const timeoutMs =
      (testCase.timeout === undefined ? undefined : parseDuration(testCase.timeout)) ??
      options.caseTimeoutMs ??
      DEFAULT_CASE_TIMEOUT_MS;
    const run = await engine.waitForRun(runId, timeoutMs);
    const executions = await engine.services.store.getExecutions(runId, { items: true });
    if (run === null || !["succeeded", "failed", "timed_out", "cancelled"].includes(run.status)) {
      const unfinished = executions
        .filter((e) => e.item === null && !["succeeded", "failed", "skipped", "cancelled"].includes(e.status))
        .map((e) => `${e.nodeId} (${e.status})`);
      return result([
        `the run did not finish within ${timeoutMs} ms; unfinished: ${unfinished.join(", ") || "none"}`,
        ...doubles.blocked,
      ]);
    }
    const observed: Observed = {
      status: run.status,
      output: run.output,
      error: run.error,
      inputs: run.input,
      nodes: observedNodes(executions),
    };
    // Reaching for the network fails the case, whatever it expects: the run it checked was not the real one.
    return result([...doubles.blocked, ...(await differences(testCase.expect, observed))]);
  } catch (error) {
    return result([`the case could not run: ${(error as Error).message}`]);
  } finally {
    await close();
  }
}

function observedNodes(executions: readonly ExecutionRecord[]): Record<string, ObservedNode> {
  const view = (e: ExecutionRecord): ObservedNode => ({
    status: e.status,
    attempts: e.attemptsTotal,
    output: ["succeeded", "failed", "skipped", "cancelled"].includes(e.status) ? e.output : null,
    error: e.error,
  });
  const nodes: Record<string, ObservedNode> = {};
  const items = new Map<string, ExecutionRecord[]>();
  for (const execution of executions) {
    if (execution.item === null) nodes[execution.nodeId] = view(execution);
    else items.set(execution.nodeId, [...(items.get(execution.nodeId) ?? []), execution]);
  }
  for (const [id, list] of items) {
    const node = nodes[id];
    if (node === undefined) continue;
    const sorted = list.sort((a, b) => (a.item ?? 0) - (b.item ?? 0));
    nodes[id] = { ...node, items: sorted.map(view) };
  }
  return nodes;
}

/** The set with every retry due at once: attempts are what a test checks, not the waits between them. */
function withoutRetryDelays(set: DefinitionSet): DefinitionSet {
  const workflows = new Map<string, ExecutionPlan>();
  for (const [name, plan] of set.workflows) {
    const nodes: Record<string, PlanNode> = {};
    for (const [id, node] of Object.entries(plan.nodes)) {
      nodes[id] =
        node.type === "map"
          ? {
              ...node,
              retry: immediate(node.retry),
              node: { ...node.node, retry: immediate(node.node.retry) },
            }
          : { ...node, retry: immediate(node.retry) };
    }
    workflows.set(name, { ...plan, nodes });
  }
  return { ...set, workflows };
}

function immediate(retry: RetryPolicy): RetryPolicy {
  return { ...retry, delayMs: 0, maxDelayMs: 0, jitter: false };
}
