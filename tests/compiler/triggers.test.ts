import { describe, expect, it } from "vitest";
import { check, findings, where, yaml } from "../helpers/definitions.ts";

const flow = (triggers: string, name = "flow") =>
  `apiVersion: pflow/v1\nkind: Workflow\nmetadata: { name: ${name} }\nspec:\n  triggers:\n${triggers}  nodes:\n    a: { type: transform, expr: "inputs" }\n`;
const messages = (files: string | Record<string, string>) => findings(files).map((d) => d.message);

describe("spec.triggers compiles into the plan", () => {
  it("each kind with its defaults, ids workflow.name", () => {
    const set = check(
      flow(
        `${yaml`
          - cron: "0 3 * * *"
            timezone: Europe/Lisbon
            input: { region: lisbon, at: "{{ trigger.scheduledAt }}" }
          - event: { exchange: listings, routingKey: listing.created }
          - webhook: { name: crm-lead, secret: { env: CRM_WEBHOOK_SECRET } }
            input: "{{ body.lead }}"
          - name: every-ten-seconds
            cron: "*/10 * * * * *"
            overlap: allow
            catchUp: all
        `
          .trimEnd()
          .replace(/^/gm, "    ")}\n`,
      ),
    );
    expect(set.valid).toBe(true);
    expect(set.workflows.get("flow")?.triggers).toEqual([
      {
        kind: "cron",
        id: "flow.cron-1",
        name: "cron-1",
        cron: "0 3 * * *",
        timezone: "Europe/Lisbon",
        overlap: "skip",
        catchUp: "one",
        input: {
          t: "object",
          entries: [
            ["region", { t: "literal", value: "lisbon" }],
            ["at", { t: "expression", expr: "trigger.scheduledAt" }],
          ],
        },
      },
      {
        kind: "event",
        id: "flow.event-2",
        name: "event-2",
        exchange: "listings",
        routingKey: "listing.created",
        prefetch: 8,
        input: { t: "expression", expr: "event.body" },
      },
      {
        kind: "webhook",
        id: "flow.crm-lead",
        name: "crm-lead",
        secretEnv: "CRM_WEBHOOK_SECRET",
        input: { t: "expression", expr: "body.lead" },
      },
      {
        kind: "cron",
        id: "flow.every-ten-seconds",
        name: "every-ten-seconds",
        cron: "*/10 * * * * *",
        timezone: "UTC",
        overlap: "allow",
        catchUp: "all",
        input: { t: "literal", value: {} },
      },
    ]);
  });

  it("a workflow without triggers has none in its plan", () => {
    const set = check(flow("    []\n").replace("  triggers:\n    []\n", ""));
    expect(set.workflows.get("flow")?.triggers).toBeUndefined();
  });
});

describe("pflow validate checks triggers, at line:column", () => {
  it("cron syntax: a value out of range, and the wrong number of fields", () => {
    const text = flow('    - cron: "61 * * * *"\n    - cron: "0 0 3 * * * *"\n');
    expect(where(text)).toEqual(["cron-syntax 6:13", "cron-syntax 7:13"]);
    expect(messages(text)[0]).toBe(
      'cron "61 * * * *" is not valid: Invalid value for minute: 61; write 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, e.g. "0 3 * * *"',
    );
  });

  it("an unknown time zone", () => {
    const text = flow('    - cron: "0 3 * * *"\n      timezone: Europe/Lisbn\n');
    expect(where(text)).toEqual(["unknown-timezone 7:17"]);
    expect(messages(text)).toEqual([
      '"Europe/Lisbn" is not an IANA time zone; write one such as UTC, Europe/Lisbon or America/New_York',
    ]);
  });

  it("a secret written in the definition", () => {
    const text = flow("    - webhook: { name: crm, secret: s3cr3t-value }\n");
    expect(where(text)).toEqual(["inline-secret 6:37"]);
    expect(messages(text)[0]).toContain("by reference only");
  });

  it("a secret reference must be { env: NAME }", () => {
    expect(where(flow("    - webhook: { name: crm, secret: { file: /etc/s } }\n"))[0]).toMatch(/^schema 6:/);
  });

  it("input templates read only what the trigger's context has", () => {
    const text = flow(
      '    - cron: "0 3 * * *"\n      input: { a: "{{ inputs.x }}" }\n    - event: { exchange: x, routingKey: a.b }\n      input: "{{ body }}"\n',
    );
    expect(where(text)).toEqual(["unknown-reference 7:19", "unknown-reference 9:14"]);
    expect(messages(text)[0]).toBe(
      'expression "inputs.x" reads "inputs", which is not in its context; the context has trigger',
    );
  });

  it("an input template that does not parse", () => {
    expect(where(flow('    - cron: "0 3 * * *"\n      input: "{{ trigger.( }}"\n'))).toEqual([
      "expression-syntax 7:14",
    ]);
  });

  it("two triggers of one workflow with one name", () => {
    const text = flow(
      '    - { name: nightly, cron: "0 3 * * *" }\n    - { name: nightly, cron: "0 4 * * *" }\n',
    );
    expect(where(text)).toEqual(["duplicate-trigger 7:15"]);
  });

  it("one webhook name in two workflows", () => {
    const hook = "    - webhook: { name: crm, secret: { env: CRM } }\n";
    const files = { "a.yaml": flow(hook, "first"), "b.yaml": flow(hook, "second") };
    const found = findings(files);
    expect(found.map((d) => `${d.file} ${d.code} ${d.line}:${d.column}`)).toEqual([
      "b.yaml duplicate-trigger 6:24",
    ]);
    expect(found[0]?.message).toBe(
      'webhook "crm" is already declared by workflow "first" at a.yaml:6:24; webhook names are unique across workflows',
    );
  });

  it("a trigger of no known kind, or of two", () => {
    expect(where(flow("    - { input: {} }\n"))[0]).toMatch(/^schema 6:/);
    expect(where(flow('    - { cron: "* * * * *", event: { exchange: x, routingKey: y } }\n'))[0]).toMatch(
      /^schema 6:/,
    );
  });
});
