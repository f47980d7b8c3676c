import type { ModelVersion } from "../../compiler/index.ts";
import type { EvaluateOptions } from "../template-eval.ts";
import type { EgressPolicy } from "./egress.ts";
import { HttpProvider } from "./http.ts";
import { MockProvider } from "./mock.ts";
import { OpenAIProvider } from "./openai.ts";
import type { Provider, SecretSource } from "./provider.ts";

export type ProviderKind = ModelVersion["provider"];

export interface ProviderOptions {
  readonly secrets: SecretSource;
  readonly egress: EgressPolicy;
  /** Default: global fetch. */
  readonly fetch?: typeof fetch;
  /** Cap on a reply body; default 64 MiB. */
  readonly maxResponseBytes?: number;
  /** Limits of the expressions providers evaluate (mock responses, http mappings). */
  readonly expressions?: EvaluateOptions;
}

export interface Providers {
  get(kind: ProviderKind): Provider;
  /** The provider of a model version: `get(version.provider)`. */
  providerFor(version: ModelVersion): Provider;
}

/** One instance of each provider, sharing the worker's secrets, egress policy and fetch. */
export function createProviders(options: ProviderOptions): Providers {
  const outbound = {
    secrets: options.secrets,
    egress: options.egress,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.maxResponseBytes === undefined ? {} : { maxResponseBytes: options.maxResponseBytes }),
  };
  const byKind: Record<ProviderKind, Provider> = {
    mock: new MockProvider(options.expressions),
    openai: new OpenAIProvider(outbound),
    http: new HttpProvider(outbound, options.expressions),
  };
  const get = (kind: ProviderKind): Provider => {
    // Kinds come from compiled definitions; a stray one is a bug, not a node failure.
    if (!Object.hasOwn(byKind, kind)) throw new Error(`no provider "${kind}"`);
    return byKind[kind];
  };
  return { get, providerFor: (version) => get(version.provider) };
}
