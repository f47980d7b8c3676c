import { contentHash, deepFreeze } from "./content-hash.ts";
import type { AutoRollbackField, ModelDocument, ModelVersionFields } from "./documents.ts";
import { durationMs } from "./duration.ts";
import type { ExpressionCache } from "./expressions.ts";
import type { ValueTemplate } from "./plan.ts";
import { pointerOf } from "./positions.ts";
import type { FindingSink } from "./schema-findings.ts";
import { didYouMean } from "./suggest.ts";
import { checkBareExpression, compileValue, type ExpressionScope } from "./value-templates.ts";

/**
 * A Model document compiled for the registry: versions with their providers'
 * settings (mock responses compiled as templates), aliases normalised, and the
 * target of a bare reference (`name`) decided: the `production` alias if there is
 * one, else the highest version.
 */
/** What a version's calls cost, per million tokens. */
export interface ModelCost {
  readonly inputPerMillion: number;
  readonly outputPerMillion: number;
  readonly currency: string;
}

export type ModelStage = "active" | "deprecated" | "retired";

export type ModelVersion = {
  /** Absent or null: the version declares no cost. */
  readonly cost?: ModelCost | null;
  /** Absent: active. */
  readonly stage?: ModelStage;
  /** Who moved the version to its stage, when and why. */
  readonly stageChange?: { readonly by?: string; readonly at?: string; readonly reason?: string } | null;
} & (
  | {
      readonly provider: "mock";
      readonly response: ValueTemplate;
      readonly latencyMs: number;
      readonly failures: number;
      readonly error: string | null;
    }
  | {
      readonly provider: "openai";
      readonly endpoint: string;
      readonly model: string;
      readonly apiKeySecret: string | null;
      readonly params: Readonly<Record<string, unknown>>;
    }
  | {
      readonly provider: "http";
      readonly endpoint: string;
      readonly apiKeySecret: string | null;
      readonly headers: Readonly<Record<string, string>>;
      /** JSONata mapping the reply body to the output; null: the body is the output. */
      readonly response: string | null;
    }
);

/**
 * When canary analysis clears a canary: once the canary and its base have each
 * had `minCalls` calls since the canary was set, if the canary's error rate
 * exceeds the base's by more than `maxErrorRateDelta`, or its p95 latency is
 * more than `maxP95Ratio` times the base's. A null threshold is not checked.
 */
export interface AutoRollback {
  readonly maxErrorRateDelta: number | null;
  readonly maxP95Ratio: number | null;
  readonly minCalls: number;
}

export const DEFAULT_MIN_CALLS = 100;

export interface ModelCanary {
  readonly version: string;
  readonly percent: number;
  /** null (or absent, in models compiled before canary analysis): the canary stays until moved by hand. */
  readonly autoRollback?: AutoRollback | null;
}

export interface ModelAlias {
  readonly version: string;
  readonly canary: ModelCanary | null;
}

export interface ModelRateLimit {
  readonly requestsPerMinute: number | null;
  readonly tokensPerMinute: number | null;
}

export interface CircuitBreakerSettings {
  readonly failureRatio: number;
  readonly minCalls: number;
  readonly windowMs: number;
  readonly openForMs: number;
}

export interface CompiledModel {
  readonly name: string;
  readonly description: string | null;
  readonly hash: string;
  /** Per call for nodes that set no timeout; null: 5 minutes. */
  readonly timeoutMs: number | null;
  /** In-flight calls per worker process; null: no limit of the model's own. */
  readonly concurrency: number | null;
  /** Deployment-wide, all versions together; null: none. */
  readonly rateLimit: ModelRateLimit | null;
  /** Per version and worker process; null: calls are never held back for failing. */
  readonly circuitBreaker: CircuitBreakerSettings | null;
  readonly versions: Readonly<Record<string, ModelVersion>>;
  readonly aliases: Readonly<Record<string, ModelAlias>>;
  /** What `name` alone means: an alias (production) or the highest version. */
  readonly defaultTarget: { readonly alias: string } | { readonly version: string };
}

const MOCK_ROOTS: ReadonlySet<string> = new Set(["input", "attempt"]);

export function compileModel(
  doc: ModelDocument,
  expressions: ExpressionCache,
  report: FindingSink,
): CompiledModel | undefined {
  let errors = 0;
  const counting: FindingSink = (code, message, pointer, target, severity = "error", within) => {
    if (severity === "error") errors++;
    report(code, message, pointer, target, severity, within);
  };
  const { spec } = doc;
  const versionKeys = Object.keys(spec.versions);
  const versions: Record<string, ModelVersion> = {};
  for (const key of versionKeys) {
    const pointer = pointerOf("spec", "versions", key);
    versions[key] = compileVersion(spec.versions[key] as ModelVersionFields, pointer, expressions, counting);
  }
  const aliases: Record<string, ModelAlias> = {};
  for (const [alias, field] of Object.entries(spec.aliases ?? {})) {
    const pointer = pointerOf("spec", "aliases", alias);
    if (alias in spec.versions) {
      counting(
        "duplicate-name",
        `alias "${alias}" has the name of a version; references to "${doc.metadata.name}@${alias}" would be ambiguous`,
        pointer,
        "key",
      );
    }
    const target: ModelAlias =
      typeof field === "string"
        ? { version: field, canary: null }
        : {
            version: field.version,
            canary: field.canary
              ? {
                  version: field.canary.version,
                  percent: field.canary.percent,
                  autoRollback: compileAutoRollback(field.canary.autoRollback),
                }
              : null,
          };
    const checkVersion = (version: string, at: string, role: string) => {
      if (!(version in spec.versions)) {
        counting(
          "unknown-model",
          `${role} points to version "${version}", which model "${doc.metadata.name}" does not have${didYouMean(version, versionKeys)} (versions: ${versionKeys.join(", ")})`,
          at,
        );
      } else if (spec.versions[version]?.stage === "retired") {
        counting(
          "retired-model",
          `${role} points to version "${version}", which is retired${reasonOf(spec.versions[version])}`,
          at,
        );
      }
    };
    checkVersion(
      target.version,
      typeof field === "string" ? pointer : `${pointer}/version`,
      `alias "${alias}"`,
    );
    if (target.canary) {
      checkVersion(target.canary.version, `${pointer}/canary/version`, `the canary of alias "${alias}"`);
      if (target.canary.autoRollback)
        checkAutoRollback(alias, target, `${pointer}/canary/autoRollback`, counting);
    }
    aliases[alias] = target;
  }
  if (errors > 0) return undefined;
  return deepFreeze({
    name: doc.metadata.name,
    description: doc.metadata.description ?? null,
    hash: contentHash(doc),
    timeoutMs: spec.timeout === undefined ? null : durationMs(spec.timeout),
    concurrency: spec.concurrency ?? null,
    rateLimit: spec.rateLimit
      ? {
          requestsPerMinute: spec.rateLimit.requestsPerMinute ?? null,
          tokensPerMinute: spec.rateLimit.tokensPerMinute ?? null,
        }
      : null,
    circuitBreaker: spec.circuitBreaker
      ? {
          failureRatio: spec.circuitBreaker.failureRatio ?? 0.5,
          minCalls: spec.circuitBreaker.minCalls ?? 10,
          windowMs: durationMs(spec.circuitBreaker.window ?? "60s"),
          openForMs: durationMs(spec.circuitBreaker.openFor ?? "30s"),
        }
      : null,
    versions,
    aliases,
    // A bare name never means a retired version, while another is left.
    defaultTarget:
      "production" in aliases
        ? { alias: "production" }
        : {
            version: (highestVersion(versionKeys.filter((key) => spec.versions[key]?.stage !== "retired")) ??
              highestVersion(versionKeys)) as string,
          },
  });
}

function compileAutoRollback(field: AutoRollbackField | undefined): AutoRollback | null {
  if (field === undefined) return null;
  return {
    maxErrorRateDelta: field.maxErrorRateDelta ?? null,
    maxP95Ratio: field.maxP95Ratio ?? null,
    minCalls: field.minCalls ?? DEFAULT_MIN_CALLS,
  };
}

/** What the schema cannot say: a policy that checks something, against another version. */
function checkAutoRollback(alias: string, target: ModelAlias, pointer: string, report: FindingSink): void {
  const policy = target.canary?.autoRollback;
  if (!policy) return;
  if (policy.maxErrorRateDelta === null && policy.maxP95Ratio === null) {
    report(
      "schema",
      `autoRollback of the canary of alias "${alias}" sets no threshold: give maxErrorRateDelta, maxP95Ratio or both`,
      pointer,
      "key",
    );
  }
  if (target.canary?.version === target.version) {
    report(
      "schema",
      `autoRollback of the canary of alias "${alias}" compares version "${target.version}" with itself: the canary must be another version than the alias's`,
      pointer,
      "key",
    );
  }
}

function compileVersion(
  version: ModelVersionFields,
  pointer: string,
  expressions: ExpressionCache,
  report: FindingSink,
): ModelVersion {
  const scope = (roots: ReadonlySet<string> | null): ExpressionScope => ({
    expressions,
    roots,
    report,
    dependenciesListed: true,
    onNodeReference() {},
  });
  switch (version.provider) {
    case "mock":
      return {
        ...lifecycle(version),
        provider: "mock",
        response: compileValue(version.response ?? null, `${pointer}/response`, scope(MOCK_ROOTS)),
        latencyMs: version.latency === undefined ? 0 : durationMs(version.latency),
        failures: version.failures ?? 0,
        error: version.error ?? null,
      };
    case "openai":
      return {
        ...lifecycle(version),
        provider: "openai",
        endpoint: version.endpoint as string,
        model: version.model as string,
        apiKeySecret: version.apiKeySecret ?? null,
        params: version.params ?? {},
      };
    case "http": {
      const response = version.response as string | undefined;
      if (response !== undefined)
        checkBareExpression(response, `${pointer}/response`, "response", scope(null));
      return {
        ...lifecycle(version),
        provider: "http",
        endpoint: version.endpoint as string,
        apiKeySecret: version.apiKeySecret ?? null,
        headers: version.headers ?? {},
        response: response ?? null,
      };
    }
  }
}

function lifecycle(version: ModelVersionFields) {
  return {
    cost: version.cost ?? null,
    stage: version.stage ?? "active",
    stageChange: version.stageChange ?? null,
  };
}

/** Numeric-aware: "10" > "9", "2024-06" > "2024-05". Undefined for no keys. */
export function highestVersion(keys: readonly string[]): string | undefined {
  return [...keys].sort((a, b) => a.localeCompare(b, "en", { numeric: true })).at(-1);
}

/** ` (reason, by …, at …)` from a version's stageChange, or "". */
export function reasonOf(
  version: { readonly stageChange?: { by?: string; at?: string; reason?: string } | null } | undefined,
): string {
  const change = version?.stageChange;
  if (!change) return "";
  const parts = [change.reason, change.by && `by ${change.by}`, change.at && `on ${change.at}`].filter(
    Boolean,
  );
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}
