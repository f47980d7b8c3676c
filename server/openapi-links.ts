/**
 * OpenAPI links (3.1 §4.8.20): how the answer of one operation feeds another,
 * e.g. the `id` of a started run into `getRun`. Clients and tools follow them;
 * Schemathesis's stateful phase uses them to reach runs and dead letters that
 * exist instead of guessing ids that do not.
 */
interface Link {
  readonly from: string;
  readonly statuses: readonly string[];
  readonly to: string;
  readonly parameters: Readonly<Record<string, string>>;
}

const RUN_ID = { id: "$response.body#/id" };

const LINKS: readonly Link[] = [
  ...["getRun", "followRun", "cancelRun", "retryRun"].map((to) => ({
    from: "startRun",
    statuses: ["200", "202"],
    to,
    parameters: RUN_ID,
  })),
  ...["getRun", "followRun", "cancelRun", "retryRun"].map((to) => ({
    from: "listRuns",
    statuses: ["200"],
    to,
    parameters: { id: "$response.body#/items/0/id" },
  })),
  {
    from: "listDeadLetters",
    statuses: ["200"],
    to: "replayDeadLetter",
    parameters: { id: "$response.body#/items/0/id" },
  },
  {
    from: "listWorkflows",
    statuses: ["200"],
    to: "getWorkflow",
    parameters: { name: "$response.body#/items/0/name" },
  },
  {
    from: "listModels",
    statuses: ["200"],
    to: "getModel",
    parameters: { name: "$response.body#/items/0/name" },
  },
];

type Operation = { operationId?: string; responses?: Record<string, { links?: Record<string, unknown> }> };

/** The document with LINKS added to the responses of the operations they start from, where both exist. */
export function withLinks<T extends object>(document: T): T {
  const paths = (document as { paths?: Record<string, Record<string, Operation> | undefined> }).paths ?? {};
  const operations = new Map<string, Operation>();
  for (const methods of Object.values(paths))
    for (const operation of Object.values(methods ?? {}))
      if (operation.operationId) operations.set(operation.operationId, operation);
  for (const link of LINKS) {
    const from = operations.get(link.from);
    if (!from || !operations.has(link.to)) continue;
    for (const status of link.statuses) {
      const response = from.responses?.[status];
      if (!response) continue;
      response.links = {
        ...response.links,
        [link.to]: { operationId: link.to, parameters: link.parameters },
      };
    }
  }
  return document;
}
