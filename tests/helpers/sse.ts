import { createParser } from "eventsource-parser";

/** One server-sent event as a client sees it; `id` is undefined when the event has none. */
export interface ReceivedEvent {
  readonly id: string | undefined;
  readonly event: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read event data freely
  readonly data: any;
}

/**
 * Reads an event stream to its end with a spec-complete parser (so what the
 * server writes is checked to be valid server-sent events), calling `onEvent`
 * with each event as it arrives: a test can act in the middle of a stream.
 */
export async function readEventStream(
  response: Response,
  onEvent: (event: ReceivedEvent) => void = () => {},
): Promise<ReceivedEvent[]> {
  const events: ReceivedEvent[] = [];
  const parser = createParser({
    onEvent: ({ id, event, data }) => {
      const received = { id, event: event ?? "message", data: JSON.parse(data) };
      events.push(received);
      onEvent(received);
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of response.body as ReadableStream<Uint8Array>) {
    parser.feed(decoder.decode(chunk, { stream: true }));
  }
  return events;
}
