import type { Engine } from "../../engine/engine.ts";
import type { RunRecord } from "../../engine/store/records.ts";
import runsSchema from "../../schemas/api/runs.schema.json" with { type: "json" };
import { PROBLEMS, Problem, type ProblemType } from "../problems.ts";

/** What the runs routes share: their schemas' references, their replies, and the run they are about. */
const SCHEMA_ID = runsSchema.$id;
export const ref = (name: keyof typeof runsSchema.$defs) => ({ $ref: `${SCHEMA_ID}#/$defs/${name}` });

export const runIdParams = {
  type: "object",
  required: ["id"],
  properties: { id: { description: "A run id.", type: "string", minLength: 1, maxLength: 200 } },
} as const;

export function jsonReply(description: string, schema: keyof typeof runsSchema.$defs) {
  return { description, content: { "application/json": { schema: ref(schema) } } };
}

/**
 * The problem replies of a route: those given, and those every authenticated
 * route can answer with. Types sharing a status share one entry.
 */
export function problemReplies(...types: ProblemType[]) {
  const all: ProblemType[] = [...types, "unauthorized", "forbidden", "rate-limited", "internal"];
  const replies: Record<number, { description: string; content: Record<string, { schema: object }> }> = {};
  for (const type of all) {
    const { status, title } = PROBLEMS[type];
    const previous = replies[status]?.description;
    replies[status] = {
      description: previous === undefined ? title : `${previous}; or: ${title}`,
      content: { "application/problem+json": { schema: ref("problem") } },
    };
  }
  return replies;
}

export async function existingRun(engine: Engine, id: string): Promise<RunRecord> {
  const run = await engine.services.store.getRun(id);
  if (!run) throw runNotFound(id);
  return run;
}

export function runNotFound(id: string): Problem {
  return new Problem("not-found", `no run "${id}"`);
}
