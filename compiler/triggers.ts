import { createRequire } from "node:module";
import type { Cron } from "croner";
import type { ExpressionCache } from "./expressions.ts";
import type { PlanTrigger, ValueTemplate } from "./plan.ts";
import { pointerOf } from "./positions.ts";
import type { FindingSink } from "./schema-findings.ts";
import { compileValue, type ExpressionScope } from "./value-templates.ts";

/**
 * `spec.triggers` → the plan's triggers, checking what the schema cannot: cron
 * syntax (croner, 5 fields or 6 with seconds first), IANA time zones, secrets
 * given by reference only, names unique in the workflow, and input templates
 * against the context each kind offers (cron: trigger; event: event, trigger;
 * webhook: body, headers, trigger).
 */
export interface TriggerFields {
  readonly name?: string;
  readonly cron?: string;
  readonly timezone?: string;
  readonly overlap?: "skip" | "allow";
  readonly catchUp?: "none" | "one" | "all";
  readonly event?: { readonly exchange: string; readonly routingKey: string; readonly prefetch?: number };
  readonly webhook?: { readonly name: string; readonly secret: { readonly env: string } | string };
  readonly input?: unknown;
}

const ROOTS = {
  cron: new Set(["trigger"]),
  event: new Set(["event", "trigger"]),
  webhook: new Set(["body", "headers", "trigger"]),
} as const;

/** Without `input`, an event's run input is the message body and a webhook's the request body. */
const DEFAULT_INPUT = {
  cron: { t: "literal", value: {} },
  event: { t: "expression", expr: "event.body" },
  webhook: { t: "expression", expr: "body" },
} as const satisfies Record<PlanTrigger["kind"], ValueTemplate>;

export const DEFAULT_EVENT_PREFETCH = 8;

export function compileTriggers(
  workflow: string,
  triggers: readonly TriggerFields[] | undefined,
  expressions: ExpressionCache,
  report: FindingSink,
): PlanTrigger[] {
  const compiled: PlanTrigger[] = [];
  const names = new Map<string, number>();
  (triggers ?? []).forEach((trigger, index) => {
    const pointer = pointerOf("spec", "triggers", String(index));
    const kind = trigger.cron !== undefined ? "cron" : trigger.event !== undefined ? "event" : "webhook";
    const name = trigger.webhook?.name ?? trigger.name ?? `${kind}-${index + 1}`;
    const namePointer = trigger.webhook ? `${pointer}/webhook/name` : `${pointer}/name`;
    const earlier = names.get(name);
    if (earlier !== undefined) {
      report(
        "duplicate-trigger",
        `trigger name "${name}" is already used by trigger ${earlier + 1} of this workflow; give each a name of its own`,
        trigger.webhook || trigger.name ? namePointer : pointer,
      );
    }
    names.set(name, index);
    const scope: ExpressionScope = {
      expressions,
      roots: ROOTS[kind],
      report,
      dependenciesListed: true,
      onNodeReference() {},
    };
    const input =
      trigger.input === undefined
        ? DEFAULT_INPUT[kind]
        : compileValue(trigger.input, `${pointer}/input`, scope);
    const id = `${workflow}.${name}`;
    if (kind === "cron") {
      const cron = trigger.cron as string;
      const timezone = trigger.timezone ?? "UTC";
      const timezoneOk = checkTimezone(timezone, `${pointer}/timezone`, report);
      checkCron(cron, timezoneOk ? timezone : "UTC", `${pointer}/cron`, report);
      compiled.push({
        kind,
        id,
        name,
        cron,
        timezone,
        overlap: trigger.overlap ?? "skip",
        catchUp: trigger.catchUp ?? "one",
        input,
      });
    } else if (kind === "event") {
      const event = trigger.event as NonNullable<TriggerFields["event"]>;
      compiled.push({
        kind,
        id,
        name,
        exchange: event.exchange,
        routingKey: event.routingKey,
        prefetch: event.prefetch ?? DEFAULT_EVENT_PREFETCH,
        input,
      });
    } else {
      const webhook = trigger.webhook as NonNullable<TriggerFields["webhook"]>;
      if (typeof webhook.secret === "string") {
        report(
          "inline-secret",
          "a webhook secret is given by reference only, never written in the definition: write secret: { env: NAME } and set NAME in the environment of the API processes",
          `${pointer}/webhook/secret`,
        );
      }
      const secretEnv = typeof webhook.secret === "string" ? "" : webhook.secret.env;
      compiled.push({ kind, id, name, secretEnv, input });
    }
  });
  return compiled;
}

/** Whether Intl knows the zone (the IANA database Node ships). */
export function isTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

function checkTimezone(timezone: string, pointer: string, report: FindingSink): boolean {
  if (isTimezone(timezone)) return true;
  report(
    "unknown-timezone",
    `"${timezone}" is not an IANA time zone; write one such as UTC, Europe/Lisbon or America/New_York`,
    pointer,
  );
  return false;
}

/**
 * croner, loaded the first time a cron expression is read: `pflow validate` and
 * every process start pay nothing for it when no workflow has a cron trigger.
 */
let CronClass: typeof Cron | undefined;

/** The schedule of a cron trigger (croner), as the engine uses it. Throws on a bad expression. */
export function cronSchedule(cron: string, timezone: string): Cron {
  CronClass ??= (createRequire(import.meta.url)("croner") as typeof import("croner")).Cron;
  return new CronClass(cron, { timezone, mode: "5-or-6-parts", paused: true });
}

function checkCron(cron: string, timezone: string, pointer: string, report: FindingSink): void {
  try {
    const schedule = cronSchedule(cron, timezone);
    if (schedule.nextRun(new Date(0)) === null) {
      report("cron-syntax", `cron "${cron}" never fires (no date matches it)`, pointer);
    }
  } catch (error) {
    const reason = (error as Error).message.replace(/^CronPattern: /, "");
    report(
      "cron-syntax",
      `cron "${cron}" is not valid: ${reason}; write 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, e.g. "0 3 * * *"`,
      pointer,
    );
  }
}

/** A workflow document as the cross-document check sees it. */
export interface TriggerOwner {
  readonly workflow: string;
  readonly triggers: readonly TriggerFields[] | undefined;
  readonly file: string;
  readonly report: FindingSink;
  /** Where a pointer of the document is, for the message of the second declaration. */
  readonly locate: (pointer: string) => { readonly line: number; readonly column: number };
  readonly invalidate: () => void;
}

/** POST /v1/hooks/{name} must name one webhook: a second workflow declaring it is an error. */
export function reportDuplicateWebhooks(owners: readonly TriggerOwner[]): void {
  const first = new Map<string, { owner: TriggerOwner; pointer: string }>();
  for (const owner of owners) {
    (owner.triggers ?? []).forEach((trigger, index) => {
      const name = trigger.webhook?.name;
      if (name === undefined) return;
      const pointer = `${pointerOf("spec", "triggers", String(index))}/webhook/name`;
      const earlier = first.get(name);
      if (earlier === undefined) {
        first.set(name, { owner, pointer });
        return;
      }
      if (earlier.owner === owner) return; // reported by compileTriggers
      const { line, column } = earlier.owner.locate(earlier.pointer);
      owner.report(
        "duplicate-trigger",
        `webhook "${name}" is already declared by workflow "${earlier.owner.workflow}" at ${earlier.owner.file}:${line}:${column}; webhook names are unique across workflows`,
        pointer,
      );
      owner.invalidate();
    });
  }
}
