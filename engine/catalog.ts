import { LRUCache } from "lru-cache";
import type { CompiledModel, DefinitionSet, ExecutionPlan, ModelVersion } from "../compiler/index.ts";
import { ExecutionError } from "./errors.ts";
import type { DefinitionRecord } from "./store/records.ts";
import type { Store } from "./store/store.ts";

/**
 * Registered definitions, read through the Store. A workflow version's plan
 * never changes, so plans are cached for good; models are read fresh (a short
 * cache), because aliases and versions move while runs start.
 */
export interface Registered {
  readonly version: number;
  /** A new version (false: the same content as the latest). */
  readonly created: boolean;
}

export class Catalog {
  readonly #store: Store;
  readonly #plans = new LRUCache<string, ExecutionPlan>({ max: 1000 });
  readonly #models = new LRUCache<string, CompiledModel>({ max: 1000, ttl: 2000 });

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Registers every valid workflow and model of a set; unchanged ones keep their
   * version (`created: false`, as the store decided it, atomically).
   */
  async register(
    set: DefinitionSet,
    now: number,
    actor: string | null = null,
  ): Promise<{ workflows: Map<string, Registered>; models: Map<string, Registered> }> {
    const workflows = new Map<string, Registered>();
    const models = new Map<string, Registered>();
    for (const model of set.models.values()) {
      const { record, created } = await this.#store.registerDefinition(
        {
          kind: "Model",
          name: model.name,
          hash: model.hash,
          source: set.sources.get(`Model/${model.name}`) ?? "",
          compiled: model,
          actor,
        },
        now,
      );
      models.set(model.name, { version: record.version, created });
      this.#models.delete(model.name);
    }
    for (const plan of set.workflows.values()) {
      const { record, created } = await this.#store.registerDefinition(
        {
          kind: "Workflow",
          name: plan.workflow,
          hash: plan.hash,
          source: set.sources.get(`Workflow/${plan.workflow}`) ?? "",
          compiled: plan,
          actor,
        },
        now,
      );
      workflows.set(plan.workflow, { version: record.version, created });
    }
    return { workflows, models };
  }

  /**
   * Registers one definition only if its latest version is still `basedOn`,
   * the one the change was computed from (Store.registerDefinitionIfLatest):
   * null if another version came first, and the caller must decide again on
   * the latest. `note` says who made the change and why, for the history.
   */
  async registerIfLatest(
    definition: Pick<DefinitionRecord, "kind" | "name" | "hash" | "source" | "compiled">,
    basedOn: number,
    now: number,
    note: { readonly actor: string | null; readonly reason?: string | null },
  ): Promise<Registered | null> {
    const result = await this.#store.registerDefinitionIfLatest(
      { ...definition, actor: note.actor, reason: note.reason ?? null },
      basedOn,
      now,
    );
    if (definition.kind === "Model") this.#models.delete(definition.name);
    return result && { version: result.record.version, created: result.created };
  }

  /** A workflow's plan, at a version or the latest. */
  async plan(name: string, version?: number): Promise<{ plan: ExecutionPlan; version: number }> {
    if (version !== undefined) {
      const cached = this.#plans.get(`${name}@${version}`);
      if (cached) return { plan: cached, version };
    }
    const record = await this.#store.getDefinition("Workflow", name, version);
    if (!record) {
      const what = version === undefined ? `workflow "${name}"` : `version ${version} of workflow "${name}"`;
      throw ExecutionError.nonRetryable("unknown-workflow", `no ${what} is registered`);
    }
    const plan = record.compiled as ExecutionPlan;
    this.#plans.set(`${name}@${record.version}`, plan);
    return { plan, version: record.version };
  }

  async model(name: string): Promise<CompiledModel> {
    const cached = this.#models.get(name);
    if (cached) return cached;
    const record = await this.#store.getDefinition("Model", name);
    if (!record) throw ExecutionError.nonRetryable("unknown-model", `no model "${name}" is registered`);
    const model = record.compiled as CompiledModel;
    this.#models.set(name, model);
    return model;
  }

  /** The models a set of references names, for pinning. */
  async models(references: readonly string[]): Promise<Map<string, CompiledModel>> {
    const names = new Set(references.map((ref) => ref.split("@")[0] as string));
    const found = new Map<string, CompiledModel>();
    for (const name of names) {
      const record = await this.#store.getDefinition("Model", name);
      if (record) found.set(name, record.compiled as CompiledModel);
    }
    return found;
  }

  /**
   * A pinned `name@version`: the model's settings and that version's. A version
   * missing from the cached model is looked up in the store again: it may have
   * been registered a moment ago, in another process.
   */
  async modelVersion(pinned: string): Promise<{ model: CompiledModel; version: ModelVersion }> {
    const at = pinned.lastIndexOf("@");
    const name = pinned.slice(0, at);
    const key = pinned.slice(at + 1);
    let model = await this.model(name);
    if (!model.versions[key]) {
      this.#models.delete(name);
      model = await this.model(name);
    }
    const version = model.versions[key];
    if (!version)
      throw ExecutionError.nonRetryable("unknown-model", `model "${model.name}" has no version "${key}"`);
    return { model, version };
  }
}
