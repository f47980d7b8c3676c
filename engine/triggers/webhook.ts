import { createHmac, timingSafeEqual } from "node:crypto";
import type { WebhookTrigger } from "../../compiler/index.ts";
import type { EngineServices } from "../services.ts";
import type { ActiveTrigger } from "./active.ts";
import { derivedRunId } from "./run-ids.ts";
import { InputRefused, type TriggerStarter } from "./starter.ts";

/**
 * Webhooks: `POST /v1/hooks/{name}`, authenticated by their signature alone.
 * The sender signs `timestamp + "." + body` with the shared secret
 * (HMAC-SHA256, hex), sends `X-Pflow-Signature: sha256=<hex>` and
 * `X-Pflow-Timestamp: <Unix seconds>`; pflow recomputes the HMAC over the raw
 * bytes received, compares in constant time, and refuses a timestamp more than
 * 5 minutes from its clock either way. A captured request replayed within those
 * 5 minutes derives the same run id (from its signature), so it starts nothing
 * new either; after them its timestamp is refused.
 */
export const WEBHOOK_TOLERANCE_MS = 5 * 60_000;

export type WebhookRefusal =
  | { readonly kind: "not-found"; readonly message: string }
  | { readonly kind: "unauthorized"; readonly message: string }
  | { readonly kind: "paused"; readonly message: string }
  | { readonly kind: "unavailable"; readonly message: string }
  | { readonly kind: "invalid-body"; readonly message: string }
  | { readonly kind: "invalid-input"; readonly message: string };

export class WebhookRefused extends Error {
  override readonly name = "WebhookRefused";
  readonly refusal: WebhookRefusal;

  constructor(refusal: WebhookRefusal) {
    super(refusal.message);
    this.refusal = refusal;
  }
}

export interface WebhookRequest {
  readonly body: Buffer;
  readonly signature: string | undefined;
  readonly timestamp: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly headers: Readonly<Record<string, unknown>>;
  /** Parses the body once its signature is checked (the server's JSON rules: depth, prototype poisoning). */
  readonly parse: (text: string) => unknown;
}

/** The hex HMAC a sender puts after `sha256=`. */
export function webhookSignature(secret: string, timestamp: string, body: Buffer | string): string {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
}

/** Null when the request is signed with `secret` and recent; else why not. */
export function checkSignature(
  secret: string,
  request: Pick<WebhookRequest, "body" | "signature" | "timestamp">,
  now: number,
): string | null {
  const { signature, timestamp } = request;
  if (!signature || !timestamp)
    return "send X-Pflow-Signature: sha256=<hex> and X-Pflow-Timestamp: <Unix seconds>";
  if (!/^[0-9]{1,12}$/.test(timestamp)) return "X-Pflow-Timestamp must be Unix seconds";
  if (Math.abs(now - Number(timestamp) * 1000) > WEBHOOK_TOLERANCE_MS) {
    return "X-Pflow-Timestamp is more than 5 minutes from the server's clock: sign each request when it is sent";
  }
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(signature);
  const expected = Buffer.from(webhookSignature(secret, timestamp, request.body), "hex");
  // Compared in constant time, and a malformed header costs the same comparison.
  const given = match
    ? Buffer.from((match[1] as string).toLowerCase(), "hex")
    : Buffer.alloc(expected.length);
  const equal = timingSafeEqual(expected, given);
  return match && equal ? null : "the signature does not match the body and timestamp";
}

export async function fireWebhook(
  active: (ActiveTrigger & { readonly trigger: WebhookTrigger }) | undefined,
  name: string,
  paused: boolean,
  request: WebhookRequest,
  services: EngineServices,
  starter: TriggerStarter,
): Promise<{ readonly id: string; readonly created: boolean }> {
  if (!active) throw new WebhookRefused({ kind: "not-found", message: `no webhook "${name}"` });
  const secret = process.env[active.trigger.secretEnv];
  if (!secret) {
    const message = `the webhook's secret is not configured: set ${active.trigger.secretEnv} in the environment of the API processes`;
    await starter.failed(active, message);
    throw new WebhookRefused({ kind: "unavailable", message });
  }
  const now = services.clock();
  const refused = checkSignature(secret, request, now);
  if (refused) throw new WebhookRefused({ kind: "unauthorized", message: refused });
  if (paused) {
    throw new WebhookRefused({ kind: "paused", message: `the trigger ${active.trigger.id} is paused` });
  }
  let body: unknown;
  try {
    body = request.body.length === 0 ? null : request.parse(request.body.toString("utf8"));
  } catch (error) {
    throw new WebhookRefused({
      kind: "invalid-body",
      message: (error as Error).message,
    });
  }
  const runId = request.idempotencyKey
    ? derivedRunId("webhook", active.trigger.id, "key", request.idempotencyKey)
    : derivedRunId("webhook", active.trigger.id, "signature", request.signature as string);
  const existing = await services.store.getRun(runId);
  if (existing) return { id: existing.id, created: false };
  const context = {
    body,
    headers: request.headers,
    trigger: {
      id: active.trigger.id,
      kind: "webhook",
      workflow: active.workflow,
      firedAt: new Date(now).toISOString(),
    },
  };
  try {
    const { run, created } = await starter.start(active, runId, await starter.input(active, context));
    return { id: run.id, created };
  } catch (error) {
    if (!(error instanceof InputRefused)) throw error;
    await starter.failed(active, error.message);
    throw new WebhookRefused({ kind: "invalid-input", message: error.message });
  }
}
