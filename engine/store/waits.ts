import type { ExecutionRecord, NewSignal, SignalRecord, WaitKind } from "./records.ts";

/**
 * The Store's part for waits (see engine/waits/): wait and approval nodes
 * parked as state, and the signals sent to them. Kept apart from the rest of
 * the port (Store.waits), as triggers are. Every move is one conditional write
 * on one record, so no adapter needs transactions: of two deliveries to one
 * node one binds, and a delivery a crash interrupted is finished by the
 * sweeper (findUnsettledSignals). Times are epoch ms passed in by the caller.
 */
export interface WaitStore {
  /**
   * running (held by `token`) → waiting, the lease released: a wait or
   * approval node now waits for `kind`, until `until` (its timer, or its
   * timeout; null: none). Clears any signal bound to it before. Records node.waiting.
   */
  startWait(
    key: string,
    token: string,
    wait: { kind: WaitKind; signal: string | null; until: number | null },
    now: number,
  ): Promise<boolean>;
  /** The executions of a run waiting for signal `name`, the longest waiting first. */
  findWaitingForSignal(runId: string, name: string): Promise<ExecutionRecord[]>;
  /** Executions waiting for `kind` across runs, the longest waiting first. `cursor`: the previous page's `next`. */
  listWaiting(query: {
    kind: WaitKind;
    limit: number;
    cursor?: string | null;
  }): Promise<{ items: ExecutionRecord[]; next: string | null }>;
  /**
   * Binds a signal to a waiting execution (signalId null or already this one):
   * of two deliveries to one node, one binds. Returns the execution's signalId
   * after (null: it was not waiting, or is bound to none).
   */
  bindSignal(key: string, signalId: string, now: number): Promise<string | null>;
  /** Stores a signal (state new); idempotent on its id (`created` false: it existed, returned as it is). */
  addSignal(signal: NewSignal): Promise<{ signal: SignalRecord; created: boolean }>;
  getSignal(id: string): Promise<SignalRecord | null>;
  /**
   * The signal `executionKey` consumed and has not yet been delivered, else the
   * oldest of the run's signals named `name` nobody took (new or kept) →
   * consumed by `executionKey`. null: none.
   */
  consumeSignal(runId: string, name: string, executionKey: string, now: number): Promise<SignalRecord | null>;
  /**
   * new → kept (no node waited), consumed → delivered, or consumed → kept
   * (released: its node ended otherwise, and the next wait takes it). False if
   * the signal was not in the state the move starts from.
   */
  settleSignal(id: string, to: "kept" | "delivered" | "released", now: number): Promise<boolean>;
  /** Signals new or consumed, untouched since `before`: a sender or deliverer died between its steps. */
  findUnsettledSignals(before: number, limit: number): Promise<SignalRecord[]>;
}
