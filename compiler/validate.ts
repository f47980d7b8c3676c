import type { Diagnostic } from "./codes.ts";
import { type CompiledWorkflow, compileWorkflow } from "./compile-workflow.ts";
import type { ModelDocument, WorkflowDocument } from "./documents.ts";
import { ExpressionCache } from "./expressions.ts";
import { analyseGraph } from "./graph.ts";
import { type CompiledModel, compileModel, reasonOf } from "./model.ts";
import type { ExecutionPlan } from "./plan.ts";
import { locate } from "./positions.ts";
import { parseWorkflowReference, resolveModelReference } from "./references.ts";
import { type FindingSink, reportSchemaErrors, sinkFor } from "./schema-findings.ts";
import { type Kind, schemaSet } from "./schemas.ts";
import { didYouMean } from "./suggest.ts";
import { reportDuplicateWebhooks } from "./triggers.ts";
import { collectExpressionSources } from "./value-templates.ts";
import {
  checkTestReferences,
  compileWorkflowTest,
  type WorkflowTest,
  type WorkflowTestDocument,
} from "./workflow-test.ts";
import { DEFAULT_YAML_LIMITS, parseYamlFile, type SourceDocument, type YamlLimits } from "./yaml-source.ts";

/**
 * Validates a set of definition files together: each document on its own (YAML,
 * schema, expressions, graph), then across the set (unique names, model and
 * sub-workflow references), and compiles what is valid. This is `pflow validate`,
 * `POST /v1/validate` and what the server loads at start.
 */
export interface SourceFile {
  /** As shown in findings, e.g. definitions/valuation.yaml. */
  readonly path: string;
  readonly text: string;
}

export interface ValidateOptions {
  /** Check references across documents (models, sub-workflows). Default true. */
  readonly resolve?: boolean;
  readonly limits?: YamlLimits;
  /**
   * The path of a file whose documents take the place of those of the same
   * kind and name in the other files: a new version of a registered
   * definition, validated together with the registry it replaces a document of.
   */
  readonly replacing?: string;
  /**
   * Keep the YAML of each valid document (`sources`, what registries store).
   * Default true; `pflow validate` needs none, and writing a 10,000-node
   * document out again costs as much as reading it.
   */
  readonly sources?: boolean;
}

export interface DocumentSummary {
  readonly kind: string;
  readonly name: string;
}

export interface FileReport {
  readonly path: string;
  readonly valid: boolean;
  readonly documents: readonly DocumentSummary[];
  readonly errors: readonly Diagnostic[];
  readonly warnings: readonly Diagnostic[];
}

export interface DefinitionSet {
  readonly valid: boolean;
  readonly files: readonly FileReport[];
  /** Plans of the valid workflows, by name. */
  readonly workflows: ReadonlyMap<string, ExecutionPlan>;
  /** The valid models, by name. */
  readonly models: ReadonlyMap<string, CompiledModel>;
  /** The YAML of each valid document, by `Kind/name`, as registries store it (empty with `sources: false`). */
  readonly sources: ReadonlyMap<string, string>;
  /** The valid WorkflowTest documents, in file order: what `pflow test` runs (never registered). */
  readonly tests: readonly WorkflowTest[];
}

interface LoadedDocument {
  readonly source: SourceDocument;
  readonly report: FindingSink;
  readonly kind: Kind | undefined;
  readonly name: string | undefined;
  schemaValid: boolean;
  workflow?: CompiledWorkflow;
  model?: CompiledModel;
  test?: WorkflowTest;
}

export function validateDefinitions(
  files: readonly SourceFile[],
  options: ValidateOptions = {},
): DefinitionSet {
  const schemas = schemaSet();
  const expressions = new ExpressionCache();
  const diagnostics = new Map<string, Diagnostic[]>();
  const documents: LoadedDocument[] = [];
  const summaries = new Map<string, DocumentSummary[]>();

  for (const file of files) {
    const parsed = parseYamlFile(file.path, file.text, options.limits ?? DEFAULT_YAML_LIMITS);
    const out = [...parsed.diagnostics];
    diagnostics.set(file.path, out);
    summaries.set(file.path, []);
    for (const source of parsed.documents) {
      const value = source.value as { kind?: unknown; metadata?: { name?: unknown } } | null;
      const kind = isKind(value?.kind) ? value.kind : undefined;
      const name = typeof value?.metadata?.name === "string" ? value.metadata.name : undefined;
      const loaded: LoadedDocument = { source, report: sinkFor(source, out), kind, name, schemaValid: false };
      documents.push(loaded);
      if (kind && name) summaries.get(file.path)?.push({ kind, name });
      if (value === undefined) continue; // did not parse; already reported
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        loaded.report(
          "schema",
          "a definition must be a mapping with apiVersion, kind, metadata and spec",
          "",
        );
        continue;
      }
      const validate = kind ? schemas.documents[kind] : schemas.ajv.getSchema(DEFINITION_SCHEMA);
      if (validate?.(value)) {
        loaded.schemaValid = kind !== undefined;
      } else {
        reportSchemaErrors(validate?.errors ?? [], kind, schemas, loaded.report, value);
      }
    }
  }

  if (options.replacing !== undefined) dropReplaced(documents, options.replacing);
  expressions.prefetch(
    documents.flatMap((doc) => (doc.schemaValid ? collectExpressionSources(doc.source.value) : [])),
  );
  const context = (doc: LoadedDocument) => ({ expressions, schemas, report: doc.report });
  for (const doc of documents) {
    if (!doc.schemaValid) continue;
    if (doc.kind === "Workflow")
      doc.workflow = compileWorkflow(doc.source.value as WorkflowDocument, context(doc));
    else if (doc.kind === "Model")
      doc.model = compileModel(doc.source.value as ModelDocument, expressions, doc.report);
    else
      doc.test = compileWorkflowTest(
        doc.source.value as WorkflowTestDocument,
        doc.source,
        expressions,
        doc.report,
      );
  }

  const invalid = new Set<LoadedDocument>();
  reportDuplicateNames(documents, invalid);
  reportDuplicateWebhooks(
    documents.flatMap((doc) =>
      doc.workflow?.plan && !invalid.has(doc)
        ? [
            {
              workflow: doc.name ?? "",
              triggers: (doc.source.value as WorkflowDocument).spec.triggers,
              file: doc.source.file,
              report: doc.report,
              locate: (pointer: string) => locate(doc.source, pointer),
              invalidate: () => invalid.add(doc),
            },
          ]
        : [],
    ),
  );
  const models = new Map<string, CompiledModel>();
  for (const doc of documents) if (doc.model && !invalid.has(doc)) models.set(doc.model.name, doc.model);
  if (options.resolve ?? true) resolveReferences(documents, models, invalid);

  const workflows = new Map<string, ExecutionPlan>();
  for (const doc of documents) {
    const plan = doc.workflow?.plan;
    if (plan && !invalid.has(doc)) workflows.set(plan.workflow, plan);
  }
  if (options.resolve ?? true) resolveTests(documents, workflows, expressions, invalid);
  for (const model of [...models.values()]) {
    const doc = documents.find((d) => d.model === model);
    if (doc && invalid.has(doc)) models.delete(model.name);
  }

  const reports = files.map((file): FileReport => {
    const all = (diagnostics.get(file.path) ?? []).sort((a, b) => a.line - b.line || a.column - b.column);
    const errors = all.filter((d) => d.severity === "error");
    return {
      path: file.path,
      valid: errors.length === 0,
      documents: summaries.get(file.path) ?? [],
      errors,
      warnings: all.filter((d) => d.severity === "warning"),
    };
  });
  const sources = new Map<string, string>();
  for (const doc of options.sources === false ? [] : documents) {
    const valid =
      (doc.kind === "Workflow" && workflows.has(doc.name ?? "")) ||
      (doc.kind === "Model" && models.has(doc.name ?? ""));
    if (valid && !invalid.has(doc)) sources.set(`${doc.kind}/${doc.name}`, String(doc.source.doc));
  }
  const tests = documents.flatMap((doc) => (doc.test && !invalid.has(doc) ? [doc.test] : []));
  return { valid: reports.every((r) => r.valid), files: reports, workflows, models, sources, tests };
}

function isKind(kind: unknown): kind is Kind {
  return kind === "Workflow" || kind === "Model" || kind === "WorkflowTest";
}

/** Each test against the set: its workflow, and the node ids and model names its cases use. */
function resolveTests(
  documents: readonly LoadedDocument[],
  plans: ReadonlyMap<string, ExecutionPlan>,
  expressions: ExpressionCache,
  invalid: Set<LoadedDocument>,
): void {
  const names = (kind: Kind) =>
    new Set(documents.filter((d) => d.kind === kind && d.name).map((d) => d.name as string));
  const workflowNames = names("Workflow");
  const modelNames = names("Model");
  for (const doc of documents) {
    if (!doc.test) continue;
    const document = doc.source.value as WorkflowTestDocument;
    if (!checkTestReferences(doc.test, document, plans, workflowNames, modelNames, doc.report, expressions))
      invalid.add(doc);
  }
}

/** Removes, in place, the documents of other files that a document of `path` replaces. */
function dropReplaced(documents: LoadedDocument[], path: string): void {
  const key = (doc: LoadedDocument) => `${doc.kind}\u0000${doc.name}`;
  const replacing = new Set(documents.filter((doc) => doc.source.file === path && doc.kind).map(key));
  let kept = 0;
  for (const doc of documents) {
    if (doc.source.file !== path && doc.kind && replacing.has(key(doc))) continue;
    documents[kept++] = doc;
  }
  documents.length = kept;
}

const DEFINITION_SCHEMA = "https://schemas.propertyflow.ai/pflow/v1/definition.schema.json";

function reportDuplicateNames(documents: readonly LoadedDocument[], invalid: Set<LoadedDocument>): void {
  const first = new Map<string, LoadedDocument>();
  for (const doc of documents) {
    if (!doc.kind || !doc.name) continue;
    const key = `${doc.kind}\u0000${doc.name}`;
    const earlier = first.get(key);
    if (earlier === undefined) {
      first.set(key, doc);
      continue;
    }
    const { line, column } = locate(earlier.source, "/metadata/name");
    doc.report(
      "duplicate-name",
      `${doc.kind.toLowerCase()} "${doc.name}" is already defined at ${earlier.source.file}:${line}:${column}`,
      "/metadata/name",
    );
    invalid.add(doc);
  }
}

function resolveReferences(
  documents: readonly LoadedDocument[],
  models: ReadonlyMap<string, CompiledModel>,
  invalid: Set<LoadedDocument>,
): void {
  // A reference to a document that exists but has errors of its own is not
  // reported again: fixing that document is the one thing to do.
  const namesOf = (kind: Kind) =>
    new Set(documents.filter((d) => d.kind === kind && d.name).map((d) => d.name as string));
  const modelNames = namesOf("Model");
  const workflowNames = namesOf("Workflow");
  const calls: { from: string; to: string; pointer: string }[] = [];
  const callers = new Map<string, LoadedDocument>();

  for (const doc of documents) {
    const compiled = doc.workflow;
    if (!compiled || !doc.name) continue;
    callers.set(doc.name, doc);
    for (const { ref, pointer } of compiled.models) {
      const name = ref.split("@")[0] as string;
      if (modelNames.has(name) && !models.has(name)) continue;
      const resolved = resolveModelReference(ref, models);
      if (!resolved.ok) {
        doc.report("unknown-model", `model reference "${ref}": ${resolved.message}`, pointer);
        invalid.add(doc);
        continue;
      }
      const model = models.get(resolved.model);
      for (const version of [resolved.version, ...(resolved.canary ? [resolved.canary.version] : [])]) {
        const stage = model?.versions[version]?.stage;
        const why = `model reference "${ref}" resolves to version "${version}" of "${resolved.model}", which is`;
        if (stage === "retired") {
          doc.report(
            "retired-model",
            `${why} retired${reasonOf(model?.versions[version])}: no run can start on it`,
            pointer,
          );
          invalid.add(doc);
        } else if (stage === "deprecated") {
          doc.report(
            "deprecated-model",
            `${why} deprecated${reasonOf(model?.versions[version])}`,
            pointer,
            "value",
            "warning",
          );
        }
      }
    }
    for (const { ref, pointer } of compiled.workflows) {
      const { name } = parseWorkflowReference(ref);
      if (workflowNames.has(name)) {
        calls.push({ from: doc.name, to: name, pointer });
        continue;
      }
      doc.report(
        "unknown-workflow",
        `no workflow is named "${name}"${didYouMean(name, workflowNames)}`,
        pointer,
      );
      invalid.add(doc);
    }
  }

  // Sub-workflows must not call themselves, directly or through others.
  const graph = analyseGraph(
    [...callers.keys()],
    calls
      .filter((call) => callers.has(call.to))
      .map((call) => ({
        from: call.to,
        to: call.from,
        pointer: call.pointer,
      })),
  );
  if (graph.ok) return;
  for (const cycle of graph.cycles) {
    // The edge that closes the cycle is written in its first workflow.
    const caller = callers.get(cycle.path[0] as string);
    if (!caller) continue;
    const path = [...cycle.path].reverse().join(" -> ");
    caller.report(
      "cycle",
      `workflow cycle: ${path} (each workflow runs the next as a sub-workflow)`,
      cycle.pointer,
    );
    invalid.add(caller);
  }
}
