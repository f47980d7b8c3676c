import { createParser, type EventSourceMessage } from "eventsource-parser";
import { authHeaders } from "./api.ts";

/**
 * Follows a run's server-sent events (GET /v1/runs/{id}/events). EventSource
 * cannot send an Authorization header, so this reads the stream with fetch and
 * parses it with eventsource-parser. A dropped connection is resumed after the
 * last event id seen (Last-Event-ID); the server closes the stream after the
 * run's final event, which ends the follow.
 */
export interface FollowHandlers {
  readonly onEvent: (type: string, data: Record<string, unknown>, id: string | undefined) => void;
  /** The server ended the stream: the run has finished. */
  readonly onEnd: () => void;
  readonly onConnection?: (state: "open" | "retrying") => void;
}

export function followRun(runId: string, handlers: FollowHandlers, lastEventId?: string): () => void {
  const controller = new AbortController();
  let last = lastEventId;
  const run = async () => {
    for (let failures = 0; !controller.signal.aborted; ) {
      try {
        const headers: Record<string, string> = { accept: "text/event-stream", ...authHeaders() };
        if (last !== undefined) headers["last-event-id"] = last;
        const response = await fetch(`/v1/runs/${encodeURIComponent(runId)}/events`, {
          headers,
          signal: controller.signal,
        });
        if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
        handlers.onConnection?.("open");
        failures = 0;
        const parser = createParser({
          onEvent: (message: EventSourceMessage) => {
            if (message.id !== undefined) last = message.id;
            let data: Record<string, unknown>;
            try {
              data = JSON.parse(message.data) as Record<string, unknown>;
            } catch {
              return;
            }
            handlers.onEvent(message.event ?? "message", data, message.id);
          },
        });
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
        handlers.onEnd();
        return;
      } catch (error) {
        if (controller.signal.aborted) return;
        failures++;
        handlers.onConnection?.("retrying");
        // Back off 0.5 s, 1 s, 2 s … up to 10 s while the server is away.
        await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** (failures - 1))));
        if (error instanceof Error && /events: 40[134]/.test(error.message)) return handlers.onEnd();
      }
    }
  };
  void run();
  return () => controller.abort();
}
