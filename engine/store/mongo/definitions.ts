import type { Collection } from "mongodb";
import type { DefinitionRecord } from "../records.ts";
import { type DefinitionDocument, jsonValue, toDefinition } from "./documents.ts";
import { isDuplicateKey } from "./server-errors.ts";

/**
 * Registered definitions, one document per version. A new version is the
 * latest + 1, taken by an insert the unique (kind, name, version) index lets
 * only one process win. Without `basedOn` the loser reads the latest again and
 * tries once more (or finds its hash is now the latest's, and registers
 * nothing); with it (compare-and-set) the loser's change was computed from a
 * version that is no longer the latest, so it gets null. The insert decides on
 * FerretDB too: its unique index is atomic even where its updates are not.
 */
export async function registerDefinition(
  definitions: Collection<DefinitionDocument>,
  definition: Omit<DefinitionRecord, "version" | "createdAt">,
  now: number,
  basedOn?: number,
): Promise<{ record: DefinitionRecord; created: boolean } | null> {
  const compiled = jsonValue(definition.compiled, () => `the compiled ${definition.kind} ${definition.name}`);
  for (;;) {
    const latest = await latestDefinition(definitions, definition.kind, definition.name);
    if (basedOn !== undefined && (latest?.version ?? 0) !== basedOn) return null;
    if (latest?.hash === definition.hash) return { record: latest, created: false };
    const record: DefinitionRecord = {
      ...definition,
      actor: definition.actor ?? null,
      reason: definition.reason ?? null,
      version: (latest?.version ?? 0) + 1,
      createdAt: now,
    };
    try {
      await definitions.insertOne({
        kind: record.kind,
        name: record.name,
        version: record.version,
        hash: record.hash,
        source: record.source,
        compiled,
        createdAt: now,
        actor: record.actor ?? null,
        reason: record.reason ?? null,
      });
      return { record, created: true };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      if (basedOn !== undefined) return null;
    }
  }
}

export async function latestDefinition(
  definitions: Collection<DefinitionDocument>,
  kind: DefinitionRecord["kind"],
  name: string,
): Promise<DefinitionRecord | null> {
  const doc = await definitions.findOne({ kind, name }, { sort: { version: -1 } });
  return doc ? toDefinition(doc) : null;
}

/**
 * The latest version of each definition of a kind: the versions are listed
 * without their (large) source and plan, and only the latest ones fetched
 * whole. ($group's $first or $max would do it in one aggregation; FerretDB 1.x
 * has neither.)
 */
export async function listLatestDefinitions(
  definitions: Collection<DefinitionDocument>,
  kind: DefinitionRecord["kind"],
): Promise<DefinitionRecord[]> {
  const versions = await definitions
    .find({ kind }, { projection: { _id: 0, name: 1, version: 1 } })
    .toArray();
  const latest = new Map<string, number>();
  for (const { name, version } of versions) latest.set(name, Math.max(version, latest.get(name) ?? 0));
  if (latest.size === 0) return [];
  const docs = await definitions
    .find({ kind, $or: [...latest].map(([name, version]) => ({ name, version })) }, { sort: { name: 1 } })
    .toArray();
  return docs.map(toDefinition);
}
