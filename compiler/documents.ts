import type { TriggerFields } from "./triggers.ts";
/**
 * The shapes of documents that passed their JSON Schema (schemas/*.schema.json).
 * Only code after schema validation may treat a document as one of these.
 */
export interface Metadata {
  readonly name: string;
  readonly description?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface RetryFields {
  readonly maxAttempts?: number;
  readonly backoff?: "fixed" | "exponential";
  readonly delay?: string;
  readonly maxDelay?: string;
  readonly jitter?: boolean;
}

export type CacheField = boolean | { readonly ttl?: string; readonly key?: string };

export interface NodeFields {
  readonly type: "model" | "preprocess" | "transform" | "map" | "workflow";
  readonly description?: string;
  readonly needs?: readonly string[];
  readonly when?: string | boolean;
  readonly trigger?: "all_succeeded" | "none_failed" | "all_done";
  readonly timeout?: string;
  readonly retry?: RetryFields;
  readonly onError?: "fail" | "continue";
  readonly cache?: CacheField;
  readonly outputSchema?: unknown;
  // model
  readonly model?: string;
  readonly input?: unknown;
  readonly fallback?: readonly string[];
  readonly stream?: boolean;
  // preprocess
  readonly op?: string;
  readonly with?: Readonly<Record<string, unknown>>;
  // transform
  readonly expr?: string;
  // map
  readonly items?: string;
  readonly concurrency?: number;
  readonly node?: NodeFields;
  // workflow
  readonly workflow?: string;
}

export interface WorkflowDocument {
  readonly apiVersion: "pflow/v1";
  readonly kind: "Workflow";
  readonly metadata: Metadata;
  readonly spec: {
    readonly inputs?: unknown;
    readonly timeout?: string;
    readonly failFast?: boolean;
    readonly defaults?: {
      readonly timeout?: string;
      readonly retry?: RetryFields;
      readonly onError?: "fail" | "continue";
      readonly cache?: CacheField;
    };
    readonly nodes: Readonly<Record<string, NodeFields>>;
    readonly outputs?: unknown;
    readonly triggers?: readonly TriggerFields[];
  };
}

export interface AutoRollbackField {
  readonly maxErrorRateDelta?: number;
  readonly maxP95Ratio?: number;
  readonly minCalls?: number;
}

export type AliasField =
  | string
  | {
      readonly version: string;
      readonly canary?: {
        readonly version: string;
        readonly percent: number;
        readonly autoRollback?: AutoRollbackField;
      };
    };

export interface ModelVersionFields {
  readonly provider: "mock" | "openai" | "http";
  readonly description?: string;
  readonly cost?: {
    readonly inputPerMillion: number;
    readonly outputPerMillion: number;
    readonly currency: string;
  };
  readonly stage?: "active" | "deprecated" | "retired";
  readonly stageChange?: { readonly by?: string; readonly at?: string; readonly reason?: string };
  // mock
  readonly response?: unknown;
  readonly latency?: string;
  readonly failures?: number;
  readonly error?: string;
  // openai, http
  readonly endpoint?: string;
  readonly model?: string;
  readonly apiKeySecret?: string;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ModelDocument {
  readonly apiVersion: "pflow/v1";
  readonly kind: "Model";
  readonly metadata: Metadata;
  readonly spec: {
    readonly timeout?: string;
    readonly concurrency?: number;
    readonly rateLimit?: { readonly requestsPerMinute?: number; readonly tokensPerMinute?: number };
    readonly circuitBreaker?: {
      readonly failureRatio?: number;
      readonly minCalls?: number;
      readonly window?: string;
      readonly openFor?: string;
    };
    readonly versions: Readonly<Record<string, ModelVersionFields>>;
    readonly aliases?: Readonly<Record<string, AliasField>>;
  };
}
