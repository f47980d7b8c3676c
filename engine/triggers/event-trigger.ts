import { randomUUID } from "node:crypto";
import type { EventTrigger } from "../../compiler/index.ts";
import type { EngineServices } from "../services.ts";
import type { ActiveTrigger } from "./active.ts";
import type { EventHandler, EventMessage, EventOutcome } from "./event-bus.ts";
import { derivedRunId } from "./run-ids.ts";
import { InputRefused, type TriggerStarter } from "./starter.ts";

/**
 * One message of an event trigger → one run, however often it is delivered:
 * the run id is derived from the trigger and the message's id, and a run that
 * exists is not started again. A message without an id (its redeliveries could
 * not be told apart), or whose input the workflow refuses, is dead-lettered
 * with the reason: to the trigger's dead-letter queue and, for the API, to the
 * Store (GET /v1/dead-letters). A failure of pflow itself (the Store is down)
 * throws, so the message comes back later: nothing is lost.
 */
const MAX_KEPT_BODY = 64 * 1024;

export function eventHandler(
  active: ActiveTrigger & { readonly trigger: EventTrigger },
  services: EngineServices,
  starter: TriggerStarter,
): EventHandler {
  const { trigger } = active;
  const deadLetter = async (message: EventMessage, reason: string): Promise<EventOutcome> => {
    const now = services.clock();
    await services.store.triggers.addTriggerDeadLetter({
      id: `${trigger.id}@${message.messageId ?? randomUUID()}`,
      trigger: trigger.id,
      workflow: active.workflow,
      reason,
      messageId: message.messageId,
      routingKey: message.routingKey,
      body: message.body.slice(0, MAX_KEPT_BODY),
      createdAt: now,
    });
    await starter.failed(active, reason);
    return { deadLetter: reason };
  };

  return async (message) => {
    if (message.messageId === null) {
      return deadLetter(
        message,
        "the message has no messageId: pflow derives the run id from it, so that a redelivered message starts no second run; publish with a message id",
      );
    }
    const runId = derivedRunId("event", trigger.id, message.messageId);
    if (await services.store.getRun(runId)) return { ack: true }; // a redelivery: its run exists
    const now = services.clock();
    const context = {
      event: {
        body: parseBody(message),
        headers: message.headers,
        routingKey: message.routingKey,
        messageId: message.messageId,
      },
      trigger: {
        id: trigger.id,
        kind: "event",
        workflow: active.workflow,
        firedAt: new Date(now).toISOString(),
      },
    };
    try {
      await starter.start(active, runId, await starter.input(active, context));
    } catch (error) {
      if (error instanceof InputRefused) return deadLetter(message, error.message);
      throw error;
    }
    return { ack: true };
  };
}

/** JSON when it parses (whatever the content type claims), else the text. */
function parseBody(message: EventMessage): unknown {
  try {
    return JSON.parse(message.body);
  } catch {
    return message.body;
  }
}
