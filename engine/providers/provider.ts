import type { ModelVersion } from "../../compiler/index.ts";

/**
 * A provider calls one model version. It returns the node output, or throws an
 * ExecutionError saying whether another attempt may help. It never sleeps
 * between attempts (retries are scheduled as state by the worker) and it stops
 * as soon as `signal` aborts (the attempt's timeout, a cancelled run).
 */
export interface ProviderCall {
  /** The model version, as compiled from its Model document. */
  readonly version: ModelVersion;
  /** `name@version`, for messages and metrics. */
  readonly model: string;
  /** The node's resolved input. */
  readonly input: unknown;
  /** 1 for the first attempt at this model version. */
  readonly attempt: number;
  /** The node's outputSchema: openai sends it as the response format. */
  readonly outputSchema: unknown;
  readonly signal: AbortSignal;
  /**
   * Set when the node streams (`stream: true`): called with each piece of the
   * answer's text as the model writes it, in order. Providers that cannot
   * stream (http, embeddings) never call it. Streaming changes only this: the
   * result (output, usage) is what it would have been without it.
   */
  readonly onDelta?: (text: string) => void;
}

export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}

export interface ProviderResult {
  readonly output: unknown;
  readonly usage?: TokenUsage;
}

export interface Provider {
  call(call: ProviderCall): Promise<ProviderResult>;
}

/** Reads a secret by the name a model version gives (apiKeySecret), never the value itself. */
export type SecretSource = (name: string) => string | undefined;

export const environmentSecrets: SecretSource = (name) => process.env[name];
