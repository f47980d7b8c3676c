/**
 * Definitions whose runs leave a series in every labelled metric: a cached
 * model call (a cache miss, then a hit), a model that fails once (a retry),
 * and a transform. `writer` is priced when `priced` (tokens and cost series).
 * `canaried` has a canary with autoRollback: one pass of canary analysis
 * gives it its rollbacks series (at 0).
 */
export const METRICS_WORKFLOW = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: describe-listing }
spec:
  nodes:
    draft: { type: model, model: writer, cache: { ttl: 1h }, input: { text: "{{ inputs.text }}" } }
    check: { type: model, model: shaky, retry: { maxAttempts: 2, delay: 10ms, jitter: false } }
    shout: { type: transform, expr: "$uppercase(nodes.draft.output.text)", needs: [draft, check] }
`;

export function writerModel(priced: boolean): string {
  return `apiVersion: pflow/v1
kind: Model
metadata: { name: writer }
spec:
  versions:
    "1":
      provider: mock
      response: { text: "{{ 'a bright flat in ' & input.text }}" }
${priced ? "      cost: { inputPerMillion: 3, outputPerMillion: 15, currency: USD }\n" : ""}`;
}

export const SHAKY_MODEL = `apiVersion: pflow/v1
kind: Model
metadata: { name: shaky }
spec:
  versions:
    "1": { provider: mock, failures: 1, response: { ok: true } }
`;

export const CANARIED_MODEL = `apiVersion: pflow/v1
kind: Model
metadata: { name: canaried }
spec:
  versions:
    "1": { provider: mock, response: { text: one } }
    "2": { provider: mock, response: { text: two } }
  aliases:
    production:
      version: "1"
      canary: { version: "2", percent: 10, autoRollback: { maxErrorRateDelta: 0.05, minCalls: 50 } }
`;

/**
 * A run of `limits` leaves a series in the limits' metrics: `paced` allows 120
 * calls a minute, so of its two parallel calls one waits its 500 ms slot;
 * `broken` always fails, and its breaker opens at the first failure.
 */
export const LIMITS_DEFINITIONS: readonly string[] = [
  `apiVersion: pflow/v1
kind: Model
metadata: { name: paced }
spec:
  rateLimit: { requestsPerMinute: 120 }
  versions:
    "1": { provider: mock, response: 1 }
`,
  `apiVersion: pflow/v1
kind: Model
metadata: { name: broken }
spec:
  circuitBreaker: { minCalls: 1 }
  versions:
    "1": { provider: mock, error: down }
`,
  `apiVersion: pflow/v1
kind: Workflow
metadata: { name: limits }
spec:
  failFast: false
  nodes:
    a: { type: model, model: paced, input: {} }
    b: { type: model, model: paced, input: {} }
    c: { type: model, model: broken, input: {}, onError: continue }
`,
];
