/**
 * The ExecutionPlan: what the engine runs. It is compiled once from a validated
 * Workflow document, is immutable (deeply frozen) and serialisable (plain JSON:
 * it can be stored with a run and shipped to workers).
 *
 * Glossary
 * - workflow: a named, versioned definition (YAML) of a DAG of nodes.
 * - plan: a workflow compiled for execution: dependencies derived, defaults
 *   resolved, expressions parsed, nodes in topological order.
 * - node: one step of the DAG (model call, preprocess op, transform, map, sub-workflow).
 * - template: a value whose strings may hold `{{ JSONata }}`; compiled here into a
 *   ValueTemplate so the engine evaluates only what has expressions in it.
 * - run / execution / attempt / lease: engine concepts; see engine/.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A compiled value: literal parts kept as they are, expressions marked for evaluation. */
export type ValueTemplate =
  /** No expression inside: use as is. */
  | { readonly t: "literal"; readonly value: JsonValue }
  /** A string that is exactly one `{{ e }}`: the value of `e`, with its JSON type. */
  | { readonly t: "expression"; readonly expr: string }
  /** A string with expressions inside text: each replaced by its value (non-strings as JSON). */
  | { readonly t: "interpolation"; readonly parts: readonly (string | { readonly expr: string })[] }
  | { readonly t: "object"; readonly entries: readonly (readonly [string, ValueTemplate])[] }
  | { readonly t: "array"; readonly items: readonly ValueTemplate[] };

/**
 * The timeout of an attempt when neither its node, its workflow's default nor
 * (for a model node) its model sets one.
 */
export const DEFAULT_TIMEOUT_MS = 5 * 60_000;

export type Trigger = "all_succeeded" | "none_failed" | "all_done";

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly backoff: "fixed" | "exponential";
  readonly delayMs: number;
  readonly maxDelayMs: number;
  readonly jitter: boolean;
}

export interface CachePolicy {
  /** Null: entries never expire. */
  readonly ttlMs: number | null;
  /** Null: the key is computed from the model, version, resolved input and params. */
  readonly key: ValueTemplate | null;
}

interface NodeCommon {
  readonly id: string;
  readonly description: string | null;
  readonly when: ValueTemplate | null;
  /**
   * Per attempt. Null for a model node that sets none (nor do the workflow
   * defaults): its model's `spec.timeout` applies, else 5 minutes. Null for a
   * map or workflow node that sets none: its items and child run have their own
   * timeouts, and the run's timeout bounds it.
   */
  readonly timeoutMs: number | null;
  readonly retry: RetryPolicy;
  readonly onError: "fail" | "continue";
  readonly cache: CachePolicy | null;
  readonly outputSchema: JsonValue | null;
}

export interface ModelNodeBody {
  readonly type: "model";
  readonly model: string;
  readonly fallback: readonly string[];
  readonly input: ValueTemplate;
  /**
   * Relay the text as the model writes it (node.delta events). Only what
   * clients see while the node runs: the output, usage, caching and retries
   * are the same either way. Absent from plans compiled before it existed.
   */
  readonly stream?: boolean;
}
export interface PreprocessNodeBody {
  readonly type: "preprocess";
  readonly op: string;
  readonly with: ValueTemplate;
}
export interface TransformNodeBody {
  readonly type: "transform";
  readonly expr: string;
}
export interface WorkflowNodeBody {
  readonly type: "workflow";
  readonly workflow: { readonly name: string; readonly version: number | null };
  readonly input: ValueTemplate;
}
export interface MapNodeBody {
  readonly type: "map";
  readonly items: ValueTemplate;
  readonly concurrency: number;
  readonly node: TemplateNode;
}

/** The node a map runs once per item, with `item` and `index` in its context. */
export type TemplateNode = NodeCommon &
  (ModelNodeBody | PreprocessNodeBody | TransformNodeBody | WorkflowNodeBody);

export type PlanNode = NodeCommon & {
  /** Nodes this one waits for: `needs` plus every node its expressions reference. */
  readonly dependencies: readonly string[];
  /** Nodes that wait for this one. */
  readonly dependents: readonly string[];
  readonly trigger: Trigger;
} & (ModelNodeBody | PreprocessNodeBody | TransformNodeBody | WorkflowNodeBody | MapNodeBody);

export interface ExecutionPlan {
  readonly planVersion: 1;
  readonly workflow: string;
  readonly description: string | null;
  readonly labels: Readonly<Record<string, string>>;
  /** sha256 (hex) of the canonical JSON (RFC 8785) of the whole document. */
  readonly hash: string;
  readonly inputs: JsonValue | null;
  readonly timeoutMs: number | null;
  readonly failFast: boolean;
  /** Every node id in a topological order (dependencies first, ties in definition order). */
  readonly order: readonly string[];
  readonly nodes: Readonly<Record<string, PlanNode>>;
  /** Nodes with no dependencies: ready when the run starts. */
  readonly roots: readonly string[];
  /** Nodes nothing depends on: their outputs make the run output when `outputs` is absent. */
  readonly leaves: readonly string[];
  readonly outputs: ValueTemplate | null;
  /** Every model reference the plan may call (primary and fallback, map templates included). */
  readonly models: readonly string[];
  /** Every sub-workflow reference. */
  readonly workflows: readonly string[];
  /** What starts runs by itself (spec.triggers); absent from plans compiled before triggers existed. */
  readonly triggers?: readonly PlanTrigger[];
}

/** A trigger of a workflow: its `input` template makes the run input (docs/language.md#triggers). */
interface TriggerCommon {
  /** `workflow.name`: unique in a deployment, the trigger's state and metrics are kept under it. */
  readonly id: string;
  readonly name: string;
  readonly input: ValueTemplate;
}
export interface CronTrigger extends TriggerCommon {
  readonly kind: "cron";
  readonly cron: string;
  readonly timezone: string;
  readonly overlap: "skip" | "allow";
  readonly catchUp: "none" | "one" | "all";
}
export interface EventTrigger extends TriggerCommon {
  readonly kind: "event";
  readonly exchange: string;
  readonly routingKey: string;
  readonly prefetch: number;
}
export interface WebhookTrigger extends TriggerCommon {
  readonly kind: "webhook";
  /** The environment variable holding the HMAC secret. */
  readonly secretEnv: string;
}
export type PlanTrigger = CronTrigger | EventTrigger | WebhookTrigger;
