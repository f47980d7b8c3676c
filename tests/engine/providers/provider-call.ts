import type { ModelVersion } from "../../../compiler/index.ts";
import type { ProviderCall } from "../../../engine/providers/provider.ts";

/** A provider call with test defaults: first attempt, no outputSchema, a signal that never aborts. */
export function callOf(
  version: ModelVersion,
  input: unknown,
  extra: Partial<ProviderCall> = {},
): ProviderCall {
  return {
    version,
    model: "writer@1",
    input,
    attempt: 1,
    outputSchema: null,
    signal: new AbortController().signal,
    ...extra,
  };
}

/** An `openai` version served at `baseUrl` (a test server's `/v1`), with test defaults. */
export function openAiVersion(
  baseUrl: string,
  fields: Partial<Extract<ModelVersion, { provider: "openai" }>> = {},
): ModelVersion {
  return {
    provider: "openai",
    endpoint: baseUrl,
    model: "llama-3.1-8b-instruct",
    apiKeySecret: null,
    params: {},
    ...fields,
  };
}
