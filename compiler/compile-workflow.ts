import type { ErrorObject } from "ajv";
import { contentHash, deepFreeze } from "./content-hash.ts";
import type { NodeFields, RetryFields, WorkflowDocument } from "./documents.ts";
import { durationMs } from "./duration.ts";
import type { ExpressionCache } from "./expressions.ts";
import { analyseGraph, type DependencyEdge } from "./graph.ts";
import {
  type CachePolicy,
  DEFAULT_TIMEOUT_MS,
  type ExecutionPlan,
  type JsonValue,
  type MapNodeBody,
  type ModelNodeBody,
  type NodeBody,
  type PlanNode,
  type RetryPolicy,
  type TemplateNode,
  type ValueTemplate,
} from "./plan.ts";
import { pointerOf } from "./positions.ts";
import { parseWorkflowReference } from "./references.ts";
import { type FindingSink, reportSchemaErrors } from "./schema-findings.ts";
import type { SchemaSet } from "./schemas.ts";
import { didYouMean } from "./suggest.ts";
import { scanTemplate } from "./templates.ts";
import { compileTriggers } from "./triggers.ts";
import {
  checkBareExpression,
  compileSingleExpression,
  compileValue,
  type ExpressionScope,
} from "./value-templates.ts";
import { compileWait } from "./wait-nodes.ts";

/**
 * A schema-valid Workflow document → its ExecutionPlan, checking on the way
 * everything a JSON Schema cannot: expressions, node references, the graph,
 * preprocess ops and their arguments, user-supplied JSON Schemas. Cross-document
 * references (models, sub-workflows) are returned for the resolver to check.
 */
export interface Reference {
  readonly ref: string;
  readonly pointer: string;
}

export interface CompiledWorkflow {
  /** Undefined when the document has errors. */
  readonly plan: ExecutionPlan | undefined;
  readonly models: readonly Reference[];
  readonly workflows: readonly Reference[];
}

export interface CompileContext {
  readonly expressions: ExpressionCache;
  readonly schemas: SchemaSet;
  readonly report: FindingSink;
}

const DEFAULT_CONCURRENCY = 8;
const WORKFLOW_ROOTS: ReadonlySet<string> = new Set(["inputs", "nodes", "run"]);
const TEMPLATE_ROOTS: ReadonlySet<string> = new Set(["inputs", "nodes", "run", "item", "index"]);

export function compileWorkflow(doc: WorkflowDocument, ctx: CompileContext): CompiledWorkflow {
  let errors = 0;
  const report: FindingSink = (code, message, pointer, target, severity = "error", within) => {
    if (severity === "error") errors++;
    ctx.report(code, message, pointer, target, severity, within);
  };
  const { spec } = doc;
  const ids = Object.keys(spec.nodes);
  const known = new Set(ids);
  const edges: DependencyEdge[] = [];
  const models: Reference[] = [];
  const workflows: Reference[] = [];

  // Outputs are evaluated after every node, and a node with needs has listed its
  // dependencies itself: in both, reading nodes without naming one is fine.
  const inputFields = declaredFields(spec.inputs);
  const scopeFor = (nodeId: string | null, roots: ReadonlySet<string>): ExpressionScope => ({
    expressions: ctx.expressions,
    roots,
    report,
    dependenciesListed: nodeId === null || (spec.nodes[nodeId]?.needs ?? []).length > 0,
    inputFields,
    onOutputField(ref, field, source, pointer) {
      const target = spec.nodes[ref];
      // A map node's output is the list of its items' outputs, not one object of the schema.
      if (target === undefined || target.type === "map") return;
      const fields = declaredFields(target.outputSchema);
      if (fields === undefined || fields.has(field)) return;
      report(
        "unknown-output-field",
        `expression ${JSON.stringify(source)} reads nodes.${ref}.output.${field}, which node "${ref}"'s outputSchema does not declare` +
          `${didYouMean(field, fields)}; it declares ${fields.size === 0 ? "no field" : [...fields].join(", ")}`,
        pointer,
        "value",
        "warning",
        `nodes.${ref}.output.${field}`,
      );
    },
    onNodeReference(ref, pointer) {
      if (!known.has(ref)) {
        report(
          "unknown-node",
          `the expression refers to node "${ref}", which does not exist${didYouMean(ref, ids)}`,
          pointer,
        );
      } else if (nodeId !== null) {
        edges.push({ from: ref, to: nodeId, pointer });
      }
    },
  });

  const checkUserSchema = (schema: unknown, pointer: string, what: string) => {
    const problem = schema === undefined ? undefined : ctx.schemas.userSchemaProblem(schema);
    if (problem) report("schema", `${what} is not a valid JSON Schema: ${problem}`, pointer);
  };

  const compileCommon = (node: NodeFields, pointer: string, scope: ExpressionScope) => {
    checkUserSchema(node.outputSchema, `${pointer}/outputSchema`, "outputSchema");
    return {
      description: node.description ?? null,
      when: compileWhen(node.when, `${pointer}/when`, scope),
      timeoutMs: timeoutMs(node, spec.defaults?.timeout),
      retry: retryPolicy(node.type, node.retry, spec.defaults?.retry),
      onError: node.onError ?? spec.defaults?.onError ?? "fail",
      // A wait's output is what arrives, never a cached one.
      cache:
        node.type === "wait" || node.type === "approval"
          ? null
          : cachePolicy(node.cache ?? spec.defaults?.cache, `${pointer}/cache`, scope),
      outputSchema: (node.outputSchema ?? null) as JsonValue | null,
    };
  };

  const compileBody = (node: NodeFields, pointer: string, scope: ExpressionScope): NodeBody | undefined => {
    switch (node.type) {
      case "model": {
        const model = node.model as string;
        models.push({ ref: model, pointer: `${pointer}/model` });
        const fallback = node.fallback ?? [];
        fallback.forEach((ref, i) => {
          models.push({ ref, pointer: `${pointer}/fallback/${i}` });
        });
        const stream = node.stream === true;
        if (stream && asksForEmbeddings(node.input)) {
          report(
            "stream-ignored",
            "stream has no effect here: the input asks for embeddings (embed), which arrive whole, with no text to relay as it is written",
            `${pointer}/stream`,
            "key",
            "warning",
          );
        }
        return {
          type: "model",
          model,
          fallback,
          input: compileValue(node.input, `${pointer}/input`, scope),
          stream,
        };
      }
      case "preprocess": {
        const op = node.op as string;
        checkOp(op, node.with, pointer, ctx.schemas, report);
        return { type: "preprocess", op, with: compileValue(node.with ?? {}, `${pointer}/with`, scope) };
      }
      case "transform": {
        const expr = node.expr as string;
        checkBareExpression(expr, `${pointer}/expr`, "expr", scope);
        return { type: "transform", expr };
      }
      case "workflow": {
        const ref = node.workflow as string;
        workflows.push({ ref, pointer: `${pointer}/workflow` });
        return {
          type: "workflow",
          workflow: parseWorkflowReference(ref),
          input: compileValue(node.input, `${pointer}/input`, scope),
        };
      }
      case "wait":
        checkUserSchema(node.schema, `${pointer}/schema`, "schema");
        return compileWait(node, pointer, scope, report);
      case "approval":
        return { type: "approval" };
      default:
        return undefined;
    }
  };

  const planNodes: Record<string, Omit<PlanNode, "dependencies" | "dependents">> = {};
  for (const id of ids) {
    const node = spec.nodes[id] as NodeFields;
    const pointer = pointerOf("spec", "nodes", id);
    const scope = scopeFor(id, WORKFLOW_ROOTS);
    (node.needs ?? []).forEach((need, i) => {
      const needPointer = `${pointer}/needs/${i}`;
      if (known.has(need)) edges.push({ from: need, to: id, pointer: needPointer });
      else
        report(
          "unknown-node",
          `"needs" refers to node "${need}", which does not exist${didYouMean(need, ids)}`,
          needPointer,
        );
    });
    const common = compileCommon(node, pointer, scope);
    const trigger = node.trigger ?? "all_succeeded";
    if (node.type === "map") {
      const template = node.node as NodeFields;
      const templatePointer = `${pointer}/node`;
      const templateScope = scopeFor(id, TEMPLATE_ROOTS);
      const body: MapNodeBody = {
        type: "map",
        items: compileSingleExpression(node.items as string, `${pointer}/items`, "items", scope),
        concurrency: node.concurrency ?? DEFAULT_CONCURRENCY,
        node: {
          ...compileCommon(template, templatePointer, templateScope),
          ...(compileBody(template, templatePointer, templateScope) as TemplateNode),
          id,
        } as TemplateNode,
      };
      planNodes[id] = { id, ...common, trigger, ...body };
    } else {
      planNodes[id] = { id, ...common, trigger, ...(compileBody(node, pointer, scope) as ModelNodeBody) };
    }
  }

  checkUserSchema(spec.inputs, "/spec/inputs", "inputs");
  const triggers = compileTriggers(doc.metadata.name, spec.triggers, ctx.expressions, report);
  const outputs =
    spec.outputs === undefined
      ? null
      : compileValue(spec.outputs, "/spec/outputs", scopeFor(null, WORKFLOW_ROOTS));

  const graph = analyseGraph(ids, edges);
  if (!graph.ok) {
    for (const cycle of graph.cycles) {
      report(
        "cycle",
        `dependency cycle: ${cycle.path.join(" -> ")} (each node waits for the one before it)`,
        cycle.pointer,
      );
    }
  }
  if (errors > 0 || !graph.ok) return { plan: undefined, models, workflows };

  const nodes: Record<string, PlanNode> = {};
  for (const id of graph.order) {
    nodes[id] = {
      ...planNodes[id],
      dependencies: graph.dependencies.get(id) ?? [],
      dependents: graph.dependents.get(id) ?? [],
    } as PlanNode;
  }
  const plan: ExecutionPlan = {
    planVersion: 1,
    workflow: doc.metadata.name,
    description: doc.metadata.description ?? null,
    labels: doc.metadata.labels ?? {},
    hash: contentHash(doc),
    inputs: (spec.inputs ?? null) as JsonValue | null,
    timeoutMs: spec.timeout === undefined ? null : durationMs(spec.timeout),
    failFast: spec.failFast ?? true,
    order: graph.order,
    nodes,
    roots: graph.order.filter((id) => (graph.dependencies.get(id) ?? []).length === 0),
    leaves: graph.order.filter((id) => (graph.dependents.get(id) ?? []).length === 0),
    outputs,
    models: [...new Set(models.map((m) => m.ref))],
    workflows: [...new Set(workflows.map((w) => w.ref))],
    ...(triggers.length > 0 ? { triggers } : {}),
  };
  return { plan: deepFreeze(plan), models, workflows };
}

/**
 * Per attempt: the node's own, else the workflow default, else 5 minutes. A
 * model node without either takes its model's timeout (null here). A map or a
 * workflow node waits on items and child runs that have timeouts of their own,
 * so only a timeout set on the node itself bounds it (null: the run's bounds it).
 * So does a wait or approval node: a per-attempt default would cut every wait short.
 */
const WAITS_ON_OTHERS: ReadonlySet<NodeFields["type"]> = new Set(["map", "workflow", "wait", "approval"]);

function timeoutMs(node: NodeFields, defaultTimeout: string | undefined): number | null {
  if (node.timeout !== undefined) return durationMs(node.timeout);
  if (WAITS_ON_OTHERS.has(node.type)) return null;
  if (defaultTimeout !== undefined) return durationMs(defaultTimeout);
  return node.type === "model" ? null : DEFAULT_TIMEOUT_MS;
}

function compileWhen(
  when: string | boolean | undefined,
  pointer: string,
  scope: ExpressionScope,
): ValueTemplate | null {
  if (when === undefined || when === true) return null;
  if (when === false) return { t: "literal", value: false };
  return compileSingleExpression(when, pointer, "when", scope);
}

const BUILT_IN_RETRY = { backoff: "exponential", delay: "1s", maxDelay: "1m", jitter: true } as const;

function retryPolicy(
  type: NodeFields["type"],
  own: RetryFields | undefined,
  defaults: RetryFields | undefined,
): RetryPolicy {
  const merged = { maxAttempts: type === "model" ? 3 : 1, ...BUILT_IN_RETRY, ...defaults, ...own };
  return {
    maxAttempts: merged.maxAttempts,
    backoff: merged.backoff,
    delayMs: durationMs(merged.delay),
    maxDelayMs: durationMs(merged.maxDelay),
    jitter: merged.jitter,
  };
}

function cachePolicy(
  cache: NodeFields["cache"],
  pointer: string,
  scope: ExpressionScope,
): CachePolicy | null {
  if (cache === undefined || cache === false) return null;
  if (cache === true) return { ttlMs: null, key: null };
  return {
    ttlMs: cache.ttl === undefined ? null : durationMs(cache.ttl),
    key: cache.key === undefined ? null : compileValue(cache.key, `${pointer}/key`, scope),
  };
}

/**
 * A preprocess op must exist and its `with` must fit the op's schema. A value that
 * is one `{{ e }}` can have any type until it runs, so findings at such values are
 * left to the run-time check of the resolved arguments.
 */
function checkOp(
  op: string,
  args: Readonly<Record<string, unknown>> | undefined,
  pointer: string,
  schemas: SchemaSet,
  report: FindingSink,
): void {
  const validate = schemas.ops.get(op);
  if (validate === undefined) {
    const known = [...schemas.ops.keys()];
    report(
      "unknown-op",
      `unknown preprocess op "${op}"${didYouMean(op, known)}; the ops are ${known.join(", ")}`,
      `${pointer}/op`,
    );
    return;
  }
  const withPointer = `${pointer}/with`;
  if (validate(args ?? {})) {
    const problem = op === "validate" ? schemas.userSchemaProblem(args?.schema) : undefined;
    if (problem)
      report("op-arguments", `schema is not a valid JSON Schema: ${problem}`, `${withPointer}/schema`);
    return;
  }
  const dynamic = expressionPointers(args ?? {}, "");
  const errors = (validate.errors ?? []).filter(
    (error: ErrorObject) => !dynamic.some((p) => error.instancePath.startsWith(p)),
  );
  const onFinding: FindingSink = (_code, message, errorPointer, target) => {
    const located = errorPointer === "" ? withPointer : `${withPointer}${errorPointer}`;
    const hasWith = args !== undefined;
    report(
      "op-arguments",
      `${op}: ${message.replace("the document", "with")}`,
      hasWith ? located : `${pointer}/op`,
      target,
    );
  };
  reportSchemaErrors(errors, undefined, schemas, onFinding, args ?? {});
}

/** Pointers (relative to `value`) of strings that are exactly one expression. */
function expressionPointers(value: unknown, pointer: string): string[] {
  if (typeof value === "string") return scanTemplate(value).kind === "expression" ? [pointer] : [];
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, child]) => expressionPointers(child, pointer + pointerOf(key)));
}

/**
 * Whether a model node's input is written as an embeddings request (an `embed`
 * field): only the openai provider reads it, and its embeddings are numbers,
 * not text a reader could watch being written.
 */
function asksForEmbeddings(input: unknown): boolean {
  return typeof input === "object" && input !== null && !Array.isArray(input) && "embed" in input;
}

/**
 * The fields an object schema allows, or undefined where it may allow any: no
 * `properties`, `additionalProperties` other than false-or-absent,
 * `patternProperties`, or composition (`allOf`, `$ref`…) this does not follow.
 * Absent `additionalProperties` counts as closed here: a workflow reading a
 * field its own schema does not declare is a typo far more often than a design.
 */
function declaredFields(schema: unknown): ReadonlySet<string> | undefined {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return undefined;
  const s = schema as Record<string, unknown>;
  const properties = s.properties;
  if (properties === null || typeof properties !== "object" || Array.isArray(properties)) return undefined;
  if (s.additionalProperties !== undefined && s.additionalProperties !== false) return undefined;
  for (const key of ["patternProperties", "allOf", "anyOf", "oneOf", "$ref", "if", "dependentSchemas"])
    if (key in s) return undefined;
  return new Set(Object.keys(properties));
}
