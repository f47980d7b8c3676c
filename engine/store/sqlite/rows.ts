import type { SQLInputValue } from "node:sqlite";
import type { NodeError } from "../../errors.ts";
import type { TokenUsage } from "../../providers/provider.ts";
import type {
  Cost,
  DeadLetter,
  DefinitionRecord,
  ExecutionRecord,
  ExecutionStatus,
  ModelCalls,
  RunRecord,
  RunStatus,
  SignalRecord,
  SignalState,
  WaitKind,
} from "../records.ts";

/** Rows of the embedded store's tables ↔ the records of the Store port. JSON columns hold structured values. */
export type Row = Record<string, SQLInputValue>;

export function json(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

export function parse<T>(text: SQLInputValue | undefined): T {
  return (text === null || text === undefined ? null : JSON.parse(text as string)) as T;
}

export function nullableNumber(value: SQLInputValue | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/**
 * The run's columns but its input, which RunInputs keeps parsed (../run-inputs.ts).
 * A column added to `runs` by a migration is added here too.
 */
export const RUN_COLUMNS_BUT_INPUT =
  "id, seq, workflow_name, workflow_version, status, output, error, models, parent, failing, nodes_total, " +
  "nodes_done, usage_input, usage_output, usage_total, created_at, started_at, finished_at, deadline, cost, round";

export function toRun(row: Row): RunRecord {
  return toRunWithInput(row, parse(row.input));
}

/** A run from its row read without its input, and the input already parsed (see RunInputs). */
export function toRunWithInput(row: Row, input: unknown): RunRecord {
  const inputTokens = Number(row.usage_input);
  const outputTokens = Number(row.usage_output);
  const totalTokens = Number(row.usage_total);
  return {
    id: row.id as string,
    workflow: { name: row.workflow_name as string, version: Number(row.workflow_version) },
    status: row.status as RunStatus,
    input,
    output: parse(row.output),
    error: parse<NodeError | null>(row.error),
    models: parse<Record<string, string>>(row.models),
    parent: parse(row.parent),
    failing: Number(row.failing) === 1,
    nodesTotal: Number(row.nodes_total),
    nodesDone: Number(row.nodes_done),
    usage: { inputTokens, outputTokens, totalTokens },
    cost: parse<Record<string, number>>(row.cost) ?? {},
    createdAt: Number(row.created_at),
    startedAt: nullableNumber(row.started_at),
    finishedAt: nullableNumber(row.finished_at),
    deadline: nullableNumber(row.deadline),
    round: Number(row.round ?? 1),
  };
}

export function toSignal(row: Row): SignalRecord {
  return {
    id: row.id as string,
    runId: row.run_id as string,
    name: row.name as string,
    data: parse(row.data),
    state: row.state as SignalState,
    consumedBy: (row.consumed_by as string | null) ?? null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function toExecution(row: Row): ExecutionRecord {
  return {
    key: row.key as string,
    runId: row.run_id as string,
    nodeId: row.node_id as string,
    item: nullableNumber(row.item),
    status: row.status as ExecutionStatus,
    attempt: Number(row.attempt),
    modelIndex: Number(row.model_index),
    attemptsTotal: Number(row.attempts_total),
    leasesLost: Number(row.leases_lost),
    leaseToken: (row.lease_token as string | null) ?? null,
    leaseExpiresAt: nullableNumber(row.lease_expires_at),
    rateSlotAt: nullableNumber(row.rate_slot_at),
    notBefore: Number(row.not_before),
    itemsTotal: Number(row.items_total),
    input: parse(row.input),
    depsDone: Number(row.deps_done),
    output: parse(row.output),
    error: parse<NodeError | null>(row.error),
    cached: Number(row.cached) === 1,
    model: (row.model as string | null) ?? null,
    usage: parse<TokenUsage | null>(row.usage),
    cost: parse<Cost | null>(row.cost),
    childRunId: (row.child_run_id as string | null) ?? null,
    startedAt: nullableNumber(row.started_at),
    finishedAt: nullableNumber(row.finished_at),
    updatedAt: Number(row.updated_at),
    round: Number(row.round ?? 1),
    waitKind: (row.wait_kind as WaitKind | null | undefined) ?? null,
    waitSignal: (row.wait_signal as string | null | undefined) ?? null,
    signalId: (row.signal_id as string | null | undefined) ?? null,
  };
}

export function toDefinition(row: Row): DefinitionRecord {
  return {
    kind: row.kind as DefinitionRecord["kind"],
    name: row.name as string,
    version: Number(row.version),
    hash: row.hash as string,
    source: row.source as string,
    compiled: parse(row.compiled),
    createdAt: Number(row.created_at),
    actor: (row.actor as string | null | undefined) ?? null,
    reason: (row.reason as string | null | undefined) ?? null,
  };
}

export function toDeadLetter(row: Row): DeadLetter {
  return {
    id: row.id as string,
    executionKey: row.execution_key as string,
    runId: row.run_id as string,
    nodeId: row.node_id as string,
    reason: row.reason as string,
    deliveries: Number(row.deliveries),
    createdAt: Number(row.created_at),
  };
}

export function toModelCalls(row: Row): ModelCalls {
  return {
    calls: Number(row.calls),
    errors: Number(row.errors),
    timeouts: Number(row.timeouts),
    latency: JSON.parse(String(row.latency)) as number[],
  };
}
