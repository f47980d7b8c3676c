import { randomUUID } from "node:crypto";
import type { Engine } from "../engine/engine.ts";
import { ExecutionError } from "../engine/errors.ts";
import { InputRejected, rejectTooDeep, type StartRequest } from "../engine/runner.ts";
import type { RunRecord } from "../engine/store/records.ts";
import type { Store } from "../engine/store/store.ts";
import { Problem } from "./problems.ts";
import { workflowHint } from "./workflow-hint.ts";

const IDEMPOTENT_CREATE_WAIT_MS = 5_000;
const IDEMPOTENT_POLL_MS = 50;

/** An unknown workflow or version is the caller's 404, not an engine failure. */
export async function startRunOrNotFound(
  start: () => Promise<RunRecord>,
  unknown?: { readonly store: Store; readonly workflow: string },
): Promise<RunRecord> {
  try {
    return await start();
  } catch (error) {
    if (error instanceof ExecutionError && error.code === "unknown-workflow") {
      const hint = unknown ? await workflowHint(unknown.store, unknown.workflow) : "";
      throw new Problem("not-found", `${error.message}${hint}`);
    }
    if (error instanceof ExecutionError && error.code === "retired-model") {
      throw new Problem("conflict", error.message);
    }
    throw error;
  }
}

/**
 * Starts a run for an Idempotency-Key once. The key is claimed for a fresh run
 * id before the run exists, so of concurrent requests exactly one creates it;
 * the others answer with that run, once it is visible. What startRun would
 * refuse (an unknown workflow, an input that breaks the inputs schema) is
 * refused before the claim: a key claimed for a refused run would point at
 * nothing. If the claimer never created its run (it died in between), the run
 * is created now, under the id the key names.
 */
export async function startRunOnce(engine: Engine, key: string, start: StartRequest): Promise<RunRecord> {
  const { store, clock } = engine.services;
  await checkStartable(engine, start);
  const freshId = randomUUID();
  const ownerId = await store.claimIdempotencyKey(key, freshId, clock());
  if (ownerId === freshId) return engine.startRun({ ...start, runId: freshId });
  const existing = await awaitRunCreated(engine, ownerId);
  if (!existing) return engine.startRun({ ...start, runId: ownerId });
  if (existing.workflow.name !== start.workflow) {
    throw new Problem(
      "conflict",
      `the Idempotency-Key belongs to run ${existing.id} of workflow "${existing.workflow.name}"`,
    );
  }
  return existing;
}

async function checkStartable(engine: Engine, start: StartRequest): Promise<void> {
  const { catalog, schemas } = engine.services;
  const { plan } = await catalog.plan(start.workflow, start.version);
  rejectTooDeep(plan.workflow, start.input);
  const violations = schemas.applyDefaultsAndValidate(plan.inputs, structuredClone(start.input));
  if (violations.length > 0) throw new InputRejected(plan.workflow, violations);
}

async function awaitRunCreated(engine: Engine, runId: string): Promise<RunRecord | null> {
  const deadline = engine.services.clock() + IDEMPOTENT_CREATE_WAIT_MS;
  for (;;) {
    const run = await engine.services.store.getRun(runId);
    if (run || engine.services.clock() >= deadline) return run;
    await new Promise((resolve) => setTimeout(resolve, IDEMPOTENT_POLL_MS));
  }
}
