import type { ModelVersion } from "../../../definitions/index.ts";
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
