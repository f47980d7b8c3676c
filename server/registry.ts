import type { FastifyRequest } from "fastify";
import { type DefinitionSet, type FileReport, validationJson } from "../compiler/index.ts";
import type { EngineServices } from "../engine/services.ts";
import type { DefinitionRecord } from "../engine/store/records.ts";
import type { DefinitionValidator } from "./definition-validator.ts";
import { Problem } from "./problems.ts";

/**
 * Definitions sent over the API (PUT /v1/workflows/{name}, PUT /v1/models/{name},
 * an alias moved, POST /v1/validate) are validated together with what is
 * registered, so a workflow's model and sub-workflow references resolve against
 * the registry as `pflow validate` resolves them against a directory. Only the
 * uploaded file's findings count: the registry is context, not the subject.
 */
export const UPLOAD_PATH = "request.yaml";

const YAML_TYPES: ReadonlySet<string> = new Set(["application/yaml", "application/x-yaml", "text/yaml"]);

/** The request body of a route that takes YAML, as OpenAPI and Fastify read it. */
export const YAML_BODY = {
  content: Object.fromEntries(
    [...YAML_TYPES].map((type) => [
      type,
      { schema: { type: "string", description: "One YAML file, as `pflow validate` reads it." } },
    ]),
  ),
};

/**
 * A route hook: anything but YAML is refused before its body is read, so a JSON
 * body (which Fastify would otherwise parse) is a 415, not a confusing finding.
 */
export async function requireYaml(request: FastifyRequest): Promise<void> {
  const type = request.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
  if (type === undefined || !YAML_TYPES.has(type)) {
    throw new Problem(
      "unsupported-media-type",
      `send the definition as YAML (Content-Type: application/yaml), not ${type ?? "no content type"}`,
    );
  }
}

export interface CheckedUpload {
  /** The uploaded file's own report: its documents and findings. */
  readonly report: FileReport;
  /** The upload and the registry, validated as one set. */
  readonly set: DefinitionSet;
}

/** Validates YAML text as one file, resolving its references against the registry. */
export async function validateUpload(
  services: EngineServices,
  validator: DefinitionValidator,
  text: string,
): Promise<CheckedUpload> {
  // All of the registry, not only what the upload names: a sub-workflow cycle
  // may run through any registered workflow. The upload's documents take the
  // place of their registered versions (or every new version of a definition
  // would be a duplicate-name of the old one). One validation, on a thread.
  const registered = [];
  for (const kind of ["Model", "Workflow"] as const) {
    for (const record of await services.store.listDefinitions(kind)) {
      registered.push({ path: `registry/${kind}/${record.name}.yaml`, text: record.source });
    }
  }
  const set = await validator.validate([{ path: UPLOAD_PATH, text }, ...registered], {
    replacing: UPLOAD_PATH,
  });
  return { report: set.files[0] as FileReport, set };
}

/** The findings of a file as the API reports them: the `errors` of POST /v1/validate. */
function findingsOf(report: FileReport) {
  return validationJson([report]).files[0]?.errors ?? [];
}

/** Who registers a version; for an edit of a registered version, which one and why. */
export interface UploadChange {
  readonly actor?: string | null;
  /**
   * The upload edits a registered version (an alias move edits the latest
   * document): it is registered only if `basedOn` is still the latest, else a
   * 409 conflict, so two concurrent moves cannot silently undo each other.
   * `reason` goes to the model's history.
   */
  readonly edit?: { readonly basedOn: number; readonly reason: string | null };
}

/**
 * Registers the one document of a checked upload as the next version of
 * `kind/name`: the upload must be valid and hold exactly that document.
 * Registering goes through the Catalog, which also drops its cached copy of a
 * model, so a run started right after pins from the new version.
 */
export async function registerUpload(
  services: EngineServices,
  checked: CheckedUpload,
  kind: DefinitionRecord["kind"],
  name: string,
  change: UploadChange = {},
): Promise<{ readonly version: number; readonly created: boolean }> {
  const { report, set } = checked;
  if (!report.valid) {
    const errors = findingsOf(report);
    const first = errors[0];
    const where = first ? `; the first, at line ${first.line} column ${first.column}: ${first.message}` : "";
    throw new Problem(
      "invalid-definition",
      `the ${kind.toLowerCase()} is not valid: ${errors.length} error${errors.length === 1 ? "" : "s"}${where}`,
      { errors },
    );
  }
  const [document, ...others] = report.documents;
  if (document === undefined || others.length > 0) {
    const held = report.documents.map((doc) => `${doc.kind} "${doc.name}"`).join(", ") || "none";
    throw new Problem(
      "invalid-definition",
      `the body must hold exactly one ${kind} document; it holds ${report.documents.length} (${held})`,
    );
  }
  if (document.kind === "WorkflowTest") {
    throw new Problem(
      "invalid-definition",
      "the body holds a WorkflowTest: tests are not registered, they run where the definitions are committed (pflow test)",
    );
  }
  if (document.kind !== kind) {
    const route = document.kind === "Model" ? "PUT /v1/models/{name}" : "PUT /v1/workflows/{name}";
    throw new Problem(
      "invalid-definition",
      `the body holds a ${document.kind}, not a ${kind}; register it with ${route}`,
    );
  }
  if (document.name !== name) {
    throw new Problem(
      "invalid-definition",
      `metadata.name is "${document.name}" but the path names "${name}"; they must be the same`,
    );
  }

  const plan = kind === "Workflow" ? set.workflows.get(name) : undefined;
  const model = kind === "Model" ? set.models.get(name) : undefined;
  const actor = change.actor ?? null;
  const { edit } = change;
  if (edit !== undefined) {
    const compiled = plan ?? model;
    if (compiled === undefined) throw new Error(`${kind} "${name}" was valid but not compiled`);
    const registered = await services.catalog.registerIfLatest(
      { kind, name, hash: compiled.hash, source: set.sources.get(`${kind}/${name}`) ?? "", compiled },
      edit.basedOn,
      services.clock(),
      { actor, reason: edit.reason },
    );
    if (registered === null) {
      const latest = await services.store.getDefinition(kind, name);
      const by = latest?.actor ? ` by ${latest.actor}` : "";
      throw new Problem(
        "conflict",
        `${kind.toLowerCase()} "${name}" changed while this change was made: it was computed from version ${edit.basedOn}, and version ${latest?.version ?? "?"} was registered meanwhile${by}; read it again and retry`,
      );
    }
    return registered;
  }
  // Only this document: registering the rest of the set again would, if the
  // registry moved meanwhile, bring back the older versions read above.
  const only: DefinitionSet = {
    ...set,
    workflows: new Map(plan ? [[name, plan]] : []),
    models: new Map(model ? [[name, model]] : []),
  };
  // Same content as the latest version is not a new version: the store decides, atomically.
  const registered = await services.catalog.register(only, services.clock(), actor);
  const result = (kind === "Workflow" ? registered.workflows : registered.models).get(name);
  if (result === undefined) throw new Error(`${kind} "${name}" was valid but not registered`);
  return result;
}

/** Who a request acts as, for the registry's history: its API key's id, or "local" without keys. */
export function actorOf(request: { readonly apiKey?: { readonly id: string } }): string {
  return request.apiKey?.id ?? "local";
}

/** Epoch milliseconds as the API shows times. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
