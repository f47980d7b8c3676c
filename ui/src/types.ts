/** The API's shapes as the console reads them (docs/api.md has the full ones). */

export type RunStatus = "pending" | "running" | "succeeded" | "failed" | "cancelled" | "timed_out";
export type NodeStatus = "pending" | "queued" | "running" | "succeeded" | "failed" | "skipped" | "cancelled";
export type Status = RunStatus | NodeStatus;

export interface ErrorInfo {
  readonly code: string;
  readonly message: string;
  readonly retryable?: boolean;
}
export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}
export interface Cost {
  readonly amount: number;
  readonly currency: string;
}

export interface NodeView {
  readonly status: NodeStatus;
  readonly attempts: number;
  readonly cached: boolean;
  readonly model?: string;
  readonly items?: number;
  readonly childRunId?: string;
  readonly dueAt?: string;
  readonly waitingFor?: "retry" | "rate-limit";
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly output: unknown;
  readonly error: ErrorInfo | null;
  readonly usage?: Usage;
  readonly cost?: Cost | null;
}

export interface Run {
  readonly id: string;
  readonly workflow: { readonly name: string; readonly version: number };
  readonly status: RunStatus;
  readonly round?: number;
  readonly input: unknown;
  readonly output: unknown;
  readonly error: ErrorInfo | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly models: Record<string, string>;
  readonly usage: Usage;
  readonly cost?: Cost | null;
  readonly parent: { readonly runId: string; readonly nodeId: string; readonly item: number | null } | null;
  readonly nodes: Record<string, NodeView>;
}

export type RunSummary = Omit<Run, "input" | "output" | "models" | "nodes">;

export interface WorkflowSummary {
  readonly name: string;
  readonly version: number;
  readonly description: string | null;
  readonly labels: Record<string, string>;
  readonly hash: string;
  readonly createdAt: string;
}

export interface PlanNode {
  readonly id: string;
  readonly type: "model" | "preprocess" | "transform" | "map" | "workflow";
  readonly description: string | null;
  readonly dependencies: readonly string[];
  readonly model?: string;
  readonly op?: string;
  readonly stream?: boolean;
  readonly node?: { readonly type: string; readonly model?: string };
}
export interface Plan {
  readonly inputs: JsonSchema | null;
  readonly order: readonly string[];
  readonly nodes: Record<string, PlanNode>;
}

export interface WorkflowDetail {
  readonly name: string;
  readonly description: string | null;
  readonly labels: Record<string, string>;
  readonly latest: number;
  readonly versions: readonly { version: number; hash: string; createdAt: string }[];
  readonly definition: string;
  readonly plan?: Plan;
}

export interface Finding {
  readonly line: number;
  readonly column: number;
  readonly code: string;
  readonly message: string;
  readonly pointer?: string;
}
export interface Validation {
  readonly valid: boolean;
  readonly files: readonly {
    readonly path: string;
    readonly valid: boolean;
    readonly errors: readonly Finding[];
    readonly warnings: readonly Finding[];
  }[];
}

export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Record<string, JsonSchema>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly enum?: readonly unknown[];
  readonly default?: unknown;
  readonly description?: string;
  readonly title?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly format?: string;
}

/** A node execution given up on (replayable), or a message an event trigger could not start a run from. */
export type DeadLetter = ExecutionDeadLetter | EventDeadLetter;

interface DeadLetterCommon {
  readonly id: string;
  readonly reason: string;
  readonly deliveries: number;
  readonly createdAt: string;
}

export interface ExecutionDeadLetter extends DeadLetterCommon {
  readonly kind: "execution";
  readonly executionKey: string;
  readonly runId: string;
  readonly nodeId: string;
}

export interface EventDeadLetter extends DeadLetterCommon {
  readonly kind: "event";
  readonly trigger: string;
  readonly workflow: string;
  readonly messageId: string | null;
  readonly routingKey: string;
  readonly body: string;
}

/** A run's history event (GET /v1/runs/{id}/history, and the SSE stream's data). */
export interface HistoryEvent {
  readonly seq: number;
  readonly at: string;
  readonly type: string;
  readonly runId: string;
  readonly round: number;
  readonly nodeId?: string;
  readonly item?: number;
  readonly attempt?: number;
  readonly data: Record<string, unknown>;
}

export interface Attempt {
  readonly round: number;
  readonly attempt: number;
  readonly item?: number;
  readonly status: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly error?: ErrorInfo | null;
  readonly model?: string | null;
  readonly provider?: string | null;
  readonly usage?: Usage | null;
  readonly cost?: Cost | null;
  readonly cached: boolean;
  readonly request?: unknown;
}
