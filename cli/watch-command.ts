import { createParser, type EventSourceMessage } from "eventsource-parser";
import { type ApiClient, ApiError, ServerUnreachable } from "./api-client.ts";
import type { RunsIo } from "./runs-command.ts";
import {
  apply,
  type RunEvent,
  render,
  stateOf,
  TERMINAL_RUN_STATUSES,
  type WatchState,
} from "./watch-view.ts";

/**
 * `pflow runs watch RUN_ID`: the run's nodes and their statuses, live, until
 * the run ends; then the process exits with the run's code. On a terminal the
 * view is redrawn in place (and its clocks tick); otherwise (CI logs, a pipe)
 * each change is one line. It reads GET /v1/runs/{id} once, then follows
 * /v1/runs/{id}/events, reconnecting after the last event it got if the
 * connection drops.
 */
export const RUN_EXIT: Readonly<Record<string, number>> = {
  succeeded: 0,
  failed: 1,
  cancelled: 3,
  timed_out: 4,
};
/** The server refused (an unknown run, say) or could not be reached. */
export const WATCH_SERVER_ERROR = 5;

const REDRAW_MS = 250;
const MAX_RECONNECTS = 5;

export async function watchRun(client: ApiClient, id: string, io: RunsIo): Promise<number> {
  const path = `/v1/runs/${encodeURIComponent(id)}`;
  try {
    const { body } = await client.request<Parameters<typeof stateOf>[0]>("GET", path);
    const state = stateOf(body);
    inOrder(state, await planOrder(client, body.workflow.name));
    const screen = io.isTTY ? new LiveScreen(io) : null;
    if (screen) screen.draw(state);
    else io.stdout(`${render(state, Date.now(), Number.POSITIVE_INFINITY).join("\n")}\n`);
    if (!TERMINAL_RUN_STATUSES.has(state.status)) {
      const ticker = screen ? setInterval(() => screen.draw(state), REDRAW_MS) : undefined;
      try {
        await follow(client, path, state, (line) => {
          if (screen) screen.draw(state);
          else if (line) io.stdout(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
        });
      } finally {
        clearInterval(ticker);
      }
      if (!TERMINAL_RUN_STATUSES.has(state.status)) {
        // The stream ended without the run's end (a server restart, say): the run as it is now decides.
        const { body: now } = await client.request<Parameters<typeof stateOf>[0]>("GET", path);
        Object.assign(state, stateOf(now));
      }
      if (screen) screen.draw(state);
    }
    const code = RUN_EXIT[state.status] ?? WATCH_SERVER_ERROR;
    io.stdout(`run ${state.id} ${state.status} (exit ${code})\n`);
    return code;
  } catch (error) {
    if (error instanceof ApiError || error instanceof ServerUnreachable) {
      io.stderr(`pflow: ${error.message}\n`);
      return WATCH_SERVER_ERROR;
    }
    throw error;
  }
}

async function follow(
  client: ApiClient,
  path: string,
  state: WatchState,
  changed: (line: string | undefined) => void,
): Promise<void> {
  let last: string | undefined;
  for (let failures = 0; failures <= MAX_RECONNECTS && !TERMINAL_RUN_STATUSES.has(state.status); ) {
    try {
      const headers: Record<string, string> = { accept: "text/event-stream" };
      if (last !== undefined) headers["last-event-id"] = last;
      const response = await client.fetch(`${path}/events`, { headers });
      if (!response.ok || !response.body) {
        const text = await response.text();
        const detail = (JSON.parse(text || "{}") as { detail?: string }).detail;
        throw new ApiError(response.status, detail ?? `the event stream answered ${response.status}`);
      }
      const parser = createParser({
        onEvent: (message: EventSourceMessage) => {
          // A connection that brings events is a good one: only those that bring none count as failures.
          failures = 0;
          if (message.id !== undefined) last = message.id;
          let event: RunEvent;
          try {
            event = JSON.parse(message.data) as RunEvent;
          } catch {
            return;
          }
          changed(apply(state, { ...event, type: event.type ?? message.event ?? "" }));
        },
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
      if (TERMINAL_RUN_STATUSES.has(state.status)) return;
      // Closed before the run ended (the server restarting, say): connect again, after the last event.
      throw new ServerUnreachable("the event stream closed before the run ended");
    } catch (error) {
      if (error instanceof ApiError && error.status < 500) throw error;
      failures++;
      if (failures > MAX_RECONNECTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** failures));
    }
  }
}

/** Redraws the view in place: up over the lines drawn last time, each rewritten and cleared to its end. */
class LiveScreen {
  readonly #io: RunsIo;
  #drawn = 0;

  constructor(io: RunsIo) {
    this.#io = io;
  }

  draw(state: WatchState): void {
    const lines = render(state, Date.now(), (this.#io.columns ?? 100) - 1);
    let out = this.#drawn > 0 ? `\x1b[${this.#drawn}F` : "";
    for (const line of lines) out += `${line}\x1b[K\n`;
    if (lines.length < this.#drawn) out += "\x1b[J";
    this.#drawn = lines.length;
    this.#io.stdout(out);
  }
}

/** The workflow's nodes in their plan's order (dependencies first), if the server says it; else none. */
async function planOrder(client: ApiClient, workflow: string): Promise<readonly string[]> {
  try {
    const { body } = await client.request<{ plan?: { order?: string[] } }>(
      "GET",
      `/v1/workflows/${encodeURIComponent(workflow)}?plan=true`,
    );
    return body.plan?.order ?? [];
  } catch (error) {
    if (error instanceof ApiError) return []; // the order is a nicety: the view works without it
    throw error;
  }
}

function inOrder(state: WatchState, order: readonly string[]): void {
  const rank = new Map(order.map((id, i) => [id, i]));
  const sorted = [...state.nodes].sort(
    ([a], [b]) => (rank.get(a) ?? Number.MAX_SAFE_INTEGER) - (rank.get(b) ?? Number.MAX_SAFE_INTEGER),
  );
  state.nodes.clear();
  for (const [id, node] of sorted) state.nodes.set(id, node);
}
