import type { ExpressionCache } from "./expressions.ts";
import type { ExecutionPlan, JsonValue } from "./plan.ts";
import { locate } from "./positions.ts";
import { parseWorkflowReference } from "./references.ts";
import type { FindingSink } from "./schema-findings.ts";
import { didYouMean } from "./suggest.ts";
import type { SourceDocument } from "./yaml-source.ts";

/**
 * A WorkflowTest document (schemas/workflow-test.schema.json) checked for what
 * its schema cannot see, and turned into the cases `pflow test` runs: every
 * assert parses, case names are unique and, against the set, the workflow
 * exists and every node id and model name a case mocks or expects is one it
 * has. A mock of a misspelt node id would otherwise mock nothing, silently.
 */
export interface WorkflowTestDocument {
  readonly apiVersion: "pflow/v1";
  readonly kind: "WorkflowTest";
  readonly metadata: { readonly name: string; readonly description?: string };
  readonly spec: { readonly workflow: string; readonly cases: readonly TestCaseFields[] };
}

export interface MockAnswer {
  readonly output?: JsonValue;
  readonly error?: { readonly code: string; readonly message: string; readonly retryable?: boolean };
}

export type MockFields = MockAnswer & { readonly outputs?: readonly MockAnswer[] };

export interface TestCaseFields {
  readonly name: string;
  readonly description?: string;
  readonly input?: JsonValue;
  readonly timeout?: string;
  readonly mocks?: Readonly<Record<string, MockFields>>;
  readonly models?: Readonly<Record<string, MockFields>>;
  readonly expect?: {
    readonly status?: "succeeded" | "failed" | "timed_out" | "cancelled" | "rejected";
    readonly output?: JsonValue;
    readonly nodes?: Readonly<Record<string, string>>;
    readonly attempts?: Readonly<Record<string, number>>;
    readonly assert?: string | readonly string[];
  };
}

/** One case, with where it is written (for reports that point at it). */
export interface TestCase extends TestCaseFields {
  readonly line: number;
  readonly column: number;
}

export interface WorkflowTest {
  readonly name: string;
  readonly file: string;
  /** The workflow under test, and the version when the reference names one. */
  readonly workflow: { readonly name: string; readonly version: number | null };
  readonly cases: readonly TestCase[];
}

/** The names an assert may read; anything else is a typo (it would always be undefined). */
const ASSERT_ROOTS: ReadonlySet<string> = new Set(["output", "nodes", "inputs", "status", "error"]);

/** Checks one schema-valid document on its own; the references are checked by checkTestReferences. */
export function compileWorkflowTest(
  document: WorkflowTestDocument,
  source: SourceDocument,
  expressions: ExpressionCache,
  report: FindingSink,
): WorkflowTest {
  const names = new Map<string, number>();
  const cases = document.spec.cases.map((fields, index): TestCase => {
    const pointer = `/spec/cases/${index}`;
    const earlier = names.get(fields.name);
    if (earlier !== undefined) {
      const at = locate(source, `/spec/cases/${earlier}/name`);
      report(
        "duplicate-name",
        `case "${fields.name}" is already defined at ${source.file}:${at.line}:${at.column}`,
        `${pointer}/name`,
      );
    } else names.set(fields.name, index);
    const asserts = fields.expect?.assert;
    const list = asserts === undefined ? [] : typeof asserts === "string" ? [asserts] : asserts;
    list.forEach((text, i) => {
      const where =
        typeof asserts === "string" ? `${pointer}/expect/assert` : `${pointer}/expect/assert/${i}`;
      const parsed = expressions.parse(text);
      if (!parsed.ok) {
        const at = parsed.position === undefined ? "" : ` at character ${parsed.position}`;
        report("expression-syntax", `${parsed.message}${at} in assert ${JSON.stringify(text)}`, where);
        return;
      }
      for (const root of parsed.analysis.roots) {
        if (ASSERT_ROOTS.has(root)) continue;
        report(
          "unknown-reference",
          `assert reads "${root}", which is not in its context (output, nodes, inputs, status, error)${didYouMean(root, ASSERT_ROOTS)}`,
          where,
        );
      }
    });
    const { line, column } = locate(source, pointer);
    return { ...fields, line, column };
  });
  const { name, version } = parseWorkflowReference(document.spec.workflow);
  return {
    name: document.metadata.name,
    file: source.file,
    workflow: { name, version: version ?? null },
    cases,
  };
}

/**
 * Against the set: the workflow exists (else unknown-workflow, and nothing else
 * is checked), and the node ids and model names the cases use are its own.
 * Returns false when the test cannot run as written.
 */
export function checkTestReferences(
  test: WorkflowTest,
  document: WorkflowTestDocument,
  plans: ReadonlyMap<string, ExecutionPlan>,
  workflowNames: ReadonlySet<string>,
  modelNames: ReadonlySet<string>,
  report: FindingSink,
  expressions: ExpressionCache,
): boolean {
  if (!workflowNames.has(test.workflow.name)) {
    report(
      "unknown-workflow",
      `no workflow is named "${test.workflow.name}"${didYouMean(test.workflow.name, workflowNames)}`,
      "/spec/workflow",
    );
    return false;
  }
  // A workflow with errors of its own is reported there; its node ids are not known.
  const plan = plans.get(test.workflow.name);
  if (plan === undefined) return true;
  const nodeIds = Object.keys(plan.nodes);
  let ok = true;
  const checkNode = (id: string, pointer: string, what: string, target: "key" | "value" = "key") => {
    if (Object.hasOwn(plan.nodes, id)) return;
    ok = false;
    report(
      "unknown-node",
      `${what} names node "${id}", which workflow "${plan.workflow}" does not have${didYouMean(id, nodeIds)}`,
      pointer,
      target,
    );
  };
  document.spec.cases.forEach((fields, index) => {
    const at = `/spec/cases/${index}`;
    for (const id of Object.keys(fields.mocks ?? {})) checkNode(id, `${at}/mocks/${id}`, "a mock");
    for (const id of Object.keys(fields.expect?.nodes ?? {}))
      checkNode(id, `${at}/expect/nodes/${id}`, "expect.nodes");
    for (const id of Object.keys(fields.expect?.attempts ?? {}))
      checkNode(id, `${at}/expect/attempts/${id}`, "expect.attempts");
    for (const name of Object.keys(fields.models ?? {})) {
      if (modelNames.has(name)) continue;
      ok = false;
      report(
        "unknown-model",
        `no model is named "${name}"${didYouMean(name, modelNames)}`,
        `${at}/models/${name}`,
        "key",
      );
    }
    const asserts = fields.expect?.assert;
    const list = asserts === undefined ? [] : typeof asserts === "string" ? [asserts] : asserts;
    list.forEach((text, i) => {
      const parsed = expressions.parse(text);
      if (!parsed.ok) return;
      const where = typeof asserts === "string" ? `${at}/expect/assert` : `${at}/expect/assert/${i}`;
      for (const id of parsed.analysis.nodes) checkNode(id, where, "assert", "value");
    });
  });
  return ok;
}
