/** The definitions layer: YAML → validated documents → ExecutionPlans and compiled models. */
export { type Diagnostic, type Severity, VALIDATION_CODES, type ValidationCode } from "./codes.ts";
export type { AliasField, AutoRollbackField } from "./documents.ts";
export { parseDuration } from "./duration.ts";
export { collectDefinitionFiles, DefinitionsNotFound } from "./load.ts";
export {
  type AutoRollback,
  type CircuitBreakerSettings,
  type CompiledModel,
  DEFAULT_MIN_CALLS,
  type ModelAlias,
  type ModelCanary,
  type ModelCost,
  type ModelRateLimit,
  type ModelStage,
  type ModelVersion,
  reasonOf,
} from "./model.ts";
export { withAlias, withoutCanary } from "./model-edits.ts";
export type * from "./plan.ts";
export { DEFAULT_TIMEOUT_MS } from "./plan.ts";
export { type ModelResolution, parseWorkflowReference, resolveModelReference } from "./references.ts";
export { validationJson } from "./report.ts";
export { scanTemplate } from "./templates.ts";
export { cronSchedule, isTimezone } from "./triggers.ts";
export {
  type DefinitionSet,
  type FileReport,
  type SourceFile,
  type ValidateOptions,
  validateDefinitions,
} from "./validate.ts";
export type { MockAnswer, MockFields, TestCase, TestCaseFields, WorkflowTest } from "./workflow-test.ts";
export { DEFAULT_YAML_LIMITS, type YamlLimits } from "./yaml-source.ts";
