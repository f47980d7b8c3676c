import type { Store } from "../store/store.ts";
import type { HistoryEvent } from "./events.ts";

/**
 * Followers of open runs' histories, one per run per process, each feeding
 * every client of its run (the event streams of GET /v1/runs/{id}/events): the
 * store is read once per run, however many clients watch it.
 *
 * A follower reads what its run's history gained since it last looked: when
 * this process appended to it (Store.onHistory, at once), and otherwise every
 * `pollMs` (the events other processes append). It stops when its last client
 * leaves. A client joining late first reads the events before the follower's
 * position itself, once (its catch-up), then takes the follower's.
 */
export interface HistoryClient {
  /** Events in order, each once, with no gap after the client's starting point. */
  events(batch: readonly HistoryEvent[]): void;
  /** The follower has read everything there is for now. */
  caughtUp(): void;
  /** Reading failed: the client should end. */
  failed(error: unknown): void;
}

export interface Following {
  close(): void;
  /** Ask for a read now (a client wants the state again). */
  wake(): void;
}

const PAGE = 500;

class Follower {
  readonly #store: Store;
  readonly #runId: string;
  readonly #pollMs: number;
  readonly #clients = new Map<HistoryClient, { sent: number; joined: boolean; buffer: HistoryEvent[] }>();
  readonly #onIdle: () => void;
  #last: number;
  #timer: NodeJS.Timeout | undefined;
  #reading = false;
  #again = false;
  #stopped = false;

  constructor(store: Store, runId: string, after: number, pollMs: number, onIdle: () => void) {
    this.#store = store;
    this.#runId = runId;
    this.#last = after;
    this.#pollMs = pollMs;
    this.#onIdle = onIdle;
  }

  get size(): number {
    return this.#clients.size;
  }

  add(client: HistoryClient, after: number): void {
    // At or past the follower's position: nothing to catch up on.
    const joined = after >= this.#last;
    this.#clients.set(client, { sent: after, joined, buffer: [] });
    if (!joined) void this.#catchUp(client, after);
    this.wake();
  }

  remove(client: HistoryClient): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0) this.stop();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#onIdle();
  }

  wake(): void {
    if (this.#stopped) return;
    if (this.#reading) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    void this.#read();
  }

  async #read(): Promise<void> {
    this.#reading = true;
    try {
      do {
        this.#again = false;
        const batch = await this.#store.listHistory(this.#runId, { after: this.#last, limit: PAGE });
        if (this.#stopped) return;
        if (batch.length > 0) {
          this.#last = (batch.at(-1) as HistoryEvent).seq;
          for (const [client, state] of this.#clients) {
            if (state.joined) deliver(client, state, batch);
            else state.buffer.push(...batch);
          }
        }
        if (batch.length === PAGE) this.#again = true;
        else for (const [client, state] of this.#clients) if (state.joined) client.caughtUp();
      } while (this.#again && !this.#stopped);
    } catch (error) {
      for (const client of this.#clients.keys()) client.failed(error);
    } finally {
      this.#reading = false;
      if (!this.#stopped) this.#timer = setTimeout(() => this.wake(), this.#pollMs);
    }
  }

  /** A late client's own read of what came before the follower's position; then it takes the follower's events. */
  async #catchUp(client: HistoryClient, after: number): Promise<void> {
    try {
      let sent = after;
      const target = this.#last;
      while (sent < target) {
        const page = await this.#store.listHistory(this.#runId, { after: sent, limit: PAGE });
        const state = this.#clients.get(client);
        if (!state) return;
        if (page.length === 0) break;
        deliver(client, state, page);
        sent = state.sent;
        if (page.length < PAGE) break;
      }
      const state = this.#clients.get(client);
      if (!state) return;
      state.joined = true;
      deliver(client, state, state.buffer);
      state.buffer = [];
      if (!this.#reading) client.caughtUp();
    } catch (error) {
      client.failed(error);
    }
  }
}

/** Sends a client the events after the last it was sent, in order. */
function deliver(client: HistoryClient, state: { sent: number }, batch: readonly HistoryEvent[]): void {
  const fresh = batch.filter((event) => event.seq > state.sent);
  if (fresh.length === 0) return;
  state.sent = (fresh.at(-1) as HistoryEvent).seq;
  client.events(fresh);
}

export class HistoryFollowers {
  readonly #store: Store;
  readonly #pollMs: number;
  readonly #followers = new Map<string, Follower>();
  #unlisten: (() => void) | undefined;

  constructor(store: Store, options: { pollMs?: number } = {}) {
    this.#store = store;
    this.#pollMs = options.pollMs ?? 250;
  }

  /** Follows a run's history from after `after` (0: the start). */
  follow(runId: string, after: number, client: HistoryClient): Following {
    this.#unlisten ??= this.#store.onHistory((id) => this.#followers.get(id)?.wake());
    let follower = this.#followers.get(runId);
    if (!follower) {
      const created: Follower = new Follower(this.#store, runId, after, this.#pollMs, () => {
        if (this.#followers.get(runId) === created) this.#followers.delete(runId);
      });
      follower = created;
      this.#followers.set(runId, follower);
    }
    const own = follower;
    own.add(client, after);
    return { close: () => own.remove(client), wake: () => own.wake() };
  }

  /** Runs followed now, and their clients: for tests and metrics. */
  get followed(): { runs: number; clients: number } {
    let clients = 0;
    for (const follower of this.#followers.values()) clients += follower.size;
    return { runs: this.#followers.size, clients };
  }

  close(): void {
    for (const follower of [...this.#followers.values()]) follower.stop();
    this.#followers.clear();
    this.#unlisten?.();
    this.#unlisten = undefined;
  }
}
