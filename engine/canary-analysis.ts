import { type CompiledModel, validateDefinitions, withoutCanary } from "../compiler/index.ts";
import { type CanaryVerdict, canarySince, figuresOf, judgeCanary } from "./canary-verdict.ts";
import type { EngineServices } from "./services.ts";
import type { DefinitionRecord } from "./store/records.ts";
import type { Store } from "./store/store.ts";

/**
 * Canary analysis, the acting half: on a timer, in every process that runs
 * the engine, each canary with `autoRollback` is judged (canary-verdict.ts) on
 * the model call statistics every worker adds to the Store, and a canary worse
 * than its base is cleared: a new version of the Model document, registered
 * only on top of the version that was judged (compare-and-set). So any number
 * of processes can run this at once: one rollback wins, the others find the
 * document moved and judge again next time; and an operator's move made
 * meanwhile is never overwritten by a verdict on what it replaced.
 */

/** The actor of a rollback in the model's history. */
export const CANARY_ANALYSIS_ACTOR = "canary-analysis";

/** One canary with a policy, judged. */
export interface CanaryReport {
  readonly model: string;
  readonly alias: string;
  /** Start of the statistics read: the minute the canary was set in (epoch ms). */
  readonly since: number;
  readonly verdict: CanaryVerdict;
  /** This process cleared the canary on this verdict. */
  readonly rolledBack: boolean;
}

export class CanaryAnalysis {
  readonly #services: EngineServices;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(services: EngineServices) {
    this.#services = services;
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.#running ??= this.analyse()
        .catch((error) =>
          this.#services.logger.warn({ err: error }, "canary analysis failed; will try again"),
        )
        .finally(() => {
          this.#running = undefined;
        });
    }, this.#services.config.canaryAnalysisIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One pass over every registered model: every canary with a policy judged, the worse rolled back. */
  async analyse(): Promise<CanaryReport[]> {
    const { store, observer } = this.#services;
    const reports: CanaryReport[] = [];
    for (const latest of await store.listDefinitions("Model")) {
      if (watchedAliases(latest.compiled as CompiledModel).length === 0) continue;
      const history = await store.listDefinitionVersions("Model", latest.name);
      let current = history.at(-1) as DefinitionRecord;
      for (const judged of await judgeModelCanaries(store, latest.name, history)) {
        const rolledBack = judged.verdict.decision === "roll-back" && (await this.#rollBack(current, judged));
        const report = { ...judged, rolledBack };
        observer.canaryAnalysed(report);
        reports.push(report);
        // A further alias of this model is then rolled back on top of this rollback, not of the version judged.
        if (rolledBack) current = (await store.getDefinition("Model", latest.name)) ?? current;
      }
    }
    return reports;
  }

  /** Clears the canary, if `judged` (the latest version, when judged) is still the latest. */
  async #rollBack(judged: DefinitionRecord, report: Omit<CanaryReport, "rolledBack">): Promise<boolean> {
    const { catalog, clock, logger } = this.#services;
    const { model: name, alias, verdict } = report;
    const text = withoutCanary(judged.source, alias);
    const set = validateDefinitions([{ path: `registry/Model/${name}.yaml`, text }], { resolve: false });
    const model = set.models.get(name);
    if (model === undefined) {
      // The document was valid with its canary; without it, it cannot break. If it ever does, say so loudly.
      const findings = set.files.flatMap((file) => file.errors.map((error) => error.message));
      logger.error(
        { model: name, alias, findings },
        "canary not rolled back: the document without it is invalid",
      );
      return false;
    }
    const registered = await catalog.registerIfLatest(
      {
        kind: "Model",
        name,
        hash: model.hash,
        source: set.sources.get(`Model/${name}`) ?? text,
        compiled: model,
      },
      judged.version,
      clock(),
      { actor: CANARY_ANALYSIS_ACTOR, reason: `rolled back: ${verdict.reason}` },
    );
    if (registered === null) {
      logger.info(
        { model: name, alias, basedOn: judged.version },
        "canary not rolled back here: the model changed meanwhile (another process's rollback, or a move)",
      );
      return false;
    }
    logger.warn(
      { model: name, alias, canary: verdict.canary, base: verdict.base, version: registered.version },
      `canary rolled back: ${verdict.reason}`,
    );
    return true;
  }
}

/** Aliases whose canary has a policy. */
function watchedAliases(model: CompiledModel): string[] {
  return Object.entries(model.aliases)
    .filter(([, target]) => target.canary?.autoRollback)
    .map(([alias]) => alias);
}

/**
 * Judges each canary with a policy of a model, from the model's history
 * (every version of its document, oldest first, the latest in effect) and
 * the statistics of both versions since the minute the canary was set.
 */
export async function judgeModelCanaries(
  store: Store,
  name: string,
  history: readonly DefinitionRecord[],
): Promise<Omit<CanaryReport, "rolledBack">[]> {
  const latest = history.at(-1);
  if (!latest) return [];
  const model = latest.compiled as CompiledModel;
  const reports: Omit<CanaryReport, "rolledBack">[] = [];
  for (const alias of watchedAliases(model)) {
    const target = model.aliases[alias];
    const setAt = canarySince(history, alias);
    if (!target?.canary?.autoRollback || setAt === null) continue;
    const since = setAt - (setAt % 60_000);
    const canary = `${name}@${target.canary.version}`;
    const base = `${name}@${target.version}`;
    const calls = await store.modelCalls([canary, base], since);
    const verdict = judgeCanary(
      target.canary.autoRollback,
      figuresOf(target.canary.version, calls[canary]),
      figuresOf(target.version, calls[base]),
    );
    reports.push({ model: name, alias, since, verdict });
  }
  return reports;
}
