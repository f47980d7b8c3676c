import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";

// The chart's alert rules and Grafana dashboard, checked by Prometheus's own
// tool: promtool (Debian's `prometheus` package, installed by
// scripts/deploy-tools.sh) checks the rules, runs their unit tests
// (alerts.rules-test.yaml), and parses every query of the dashboard. Which
// metrics they name is checked against the app's real /metrics in
// metric-names.test.ts.

const ROOT = join(import.meta.dirname, "../..");
const ALERTS = "helm/pflow/files/alerts.yaml";
const RULES_TEST = "tests/deploy/alerts.rules-test.yaml";
const DASHBOARD = "helm/pflow/files/dashboard.json";
const RUNBOOKS = "https://github.com/propertyflow/pflow/blob/main/docs/operations.md";
/** Every panel's data source: the dashboard's `datasource` variable, in Grafana's syntax. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template literal
const DATASOURCE = { type: "prometheus", uid: "${datasource}" };

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RulesTest {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: { alertname: string; eval_time: string; exp_alerts?: unknown[] }[];
  }[];
}

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}

interface Variable {
  type: string;
  name: string;
  query?: unknown;
  datasource?: { type?: string; uid?: string };
}

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const rules = (parse(read(ALERTS)) as { groups: { rules: AlertRule[] }[] }).groups.flatMap((g) => g.rules);
const alerts = rules.filter((rule) => rule.alert !== undefined);

/** Runs promtool in the project's root; its whole output is the assertion message. */
function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync("promtool", args, { cwd: ROOT, encoding: "utf8" });
  expect(result.error, "promtool is not installed: run scripts/deploy-tools.sh").toBeUndefined();
  return { status: result.status, output: `promtool ${args.join(" ")}\n${result.stdout}${result.stderr}` };
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as dashes. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, "")
    .replace(/ /g, "-");
}

describe("alert rules", () => {
  it("pass promtool check rules", () => {
    const { status, output } = promtool("check", "rules", ALERTS);
    expect(status, output).toBe(0);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it("pass their promtool unit tests", () => {
    const { status, output } = promtool("test", "rules", RULES_TEST);
    expect(status, output).toBe(0);
    expect(output).toContain("SUCCESS");
  });

  it("are the seven alerts of the operations issue, the circuit breakers' and the triggers'", () => {
    expect(alerts.map((a) => a.alert)).toEqual([
      "PflowDeadLettersGrowing",
      "PflowRunFailureRatioHigh",
      "PflowModelLatencyP99High",
      "PflowQueueBacklogStale",
      "PflowNoReadyWorkers",
      "PflowBackendUnreachable",
      "PflowCanaryRolledBack",
      "PflowCircuitOpen",
      "PflowTriggerFailing",
    ]);
  });

  it("each have a severity, a summary, a description and a runbook", () => {
    for (const alert of alerts) {
      const context = alert.alert;
      expect(alert.labels?.severity, context).toMatch(/^(warning|critical)$/);
      expect(Object.keys(alert.annotations ?? {}).sort(), context).toEqual([
        "description",
        "runbook_url",
        "summary",
      ]);
      expect(alert.annotations?.summary, context).not.toBe("");
      expect(alert.annotations?.description, context).not.toBe("");
      expect(alert.annotations?.runbook_url, context).toBe(`${RUNBOOKS}#${anchor(alert.alert)}`);
    }
  });

  it("link to a runbook section of docs/operations.md for each, under 'Alerts and runbooks'", () => {
    const docs = read("docs/operations.md");
    const start = docs.indexOf("\n## Alerts and runbooks\n");
    expect(start, "docs/operations.md has no '## Alerts and runbooks' section").toBeGreaterThan(0);
    const section = docs.slice(start + 1);
    const next = section.indexOf("\n## ");
    const runbooks = next === -1 ? section : section.slice(0, next);
    const headings = [...runbooks.matchAll(/^### (.+)$/gm)].map((m) => (m[1] as string).trim());
    expect(headings).toEqual(alerts.map((a) => a.alert));
    for (const heading of headings) {
      const url = alerts.find((a) => a.alert === heading)?.annotations?.runbook_url;
      expect(url?.split("#")[1]).toBe(anchor(heading));
    }
  });

  it("each have a unit test that fires them and one that keeps them quiet", () => {
    const suite = parse(read(RULES_TEST)) as RulesTest;
    expect(suite.rule_files).toEqual([`../../${ALERTS}`]);
    const cases = suite.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `no case fires ${alert.alert}`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `no case keeps ${alert.alert} quiet`,
      ).toBe(true);
    }
    // No case names an alert that does not exist (promtool would expect it never to fire).
    const names = new Set(alerts.map((a) => a.alert));
    for (const c of cases) expect(names.has(c.alertname), c.alertname).toBe(true);
  });
});

describe("Grafana dashboard", () => {
  const dashboard = JSON.parse(read(DASHBOARD)) as {
    uid: string;
    title: string;
    schemaVersion: number;
    templating: { list: Variable[] };
    panels: Panel[];
  };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const queryPanels = panels.filter((p) => p.type !== "row");
  const targets = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, target: t })));

  it("is a Grafana dashboard of schema 38 or later with a uid", () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(38);
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).toBe("pflow");
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("has a Prometheus datasource variable, and workflow and model variables that query it", () => {
    const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.datasource).toMatchObject({ type: "datasource", query: "prometheus" });
    for (const name of ["workflow", "model"]) {
      expect(variables[name]).toMatchObject({
        type: "query",
        datasource: DATASOURCE,
        includeAll: true,
        multi: true,
      });
    }
  });

  it("queries the datasource variable in every panel and target", () => {
    expect(targets.length).toBeGreaterThan(0);
    for (const panel of queryPanels) {
      expect(panel.datasource, panel.title).toEqual(DATASOURCE);
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
    }
    for (const { panel, target } of targets) {
      expect(target.datasource, panel.title).toEqual(DATASOURCE);
      expect(target.expr, panel.title).toMatch(/\S/);
    }
  });

  it("has the panels the operations issue asks for", () => {
    const titles = queryPanels.map((p) => p.title);
    for (const wanted of [
      /^Runs started$/,
      /^Runs finished by status$/,
      /^Run failure ratio$/,
      /^Node executions by type and status$/,
      /^Model node latency p50 \/ p95 \/ p99$/,
      /^Queue depth$/,
      /^Oldest queued node age$/,
      /^Retries/,
      /^Dead letters$/,
      /^Tokens by model$/,
      /^Cost per hour by model$/,
      /^Backends up$/,
      /^Cache hit ratio$/,
    ])
      expect(
        titles.some((t) => wanted.test(t)),
        `${wanted}`,
      ).toBe(true);
    const latency = queryPanels.find((p) => p.title.startsWith("Model node latency"));
    expect(latency?.targets?.map((t) => /histogram_quantile\((0\.\d+)/.exec(t.expr ?? "")?.[1])).toEqual([
      "0.5",
      "0.95",
      "0.99",
    ]);
  });

  it("has queries that all parse as PromQL (promtool check rules)", () => {
    // Grafana's variables become what they stand for: a range and an "all" regex.
    const promql = (expr: string) =>
      expr.replace(/\$__(rate_interval|interval|range)\b/g, "5m").replace(/\$\{?\w+\}?/g, ".*");
    const recording = targets.map(({ panel, target }) => ({
      record: `dashboard:panel_${panel.id}:${(target.refId ?? "").toLowerCase()}`,
      expr: promql(target.expr ?? ""),
    }));
    const dir = mkdtempSync(join(tmpdir(), "pflow-dashboard-"));
    try {
      const file = join(dir, "dashboard-queries.yaml");
      writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules: recording }] }));
      const { status, output } = promtool("check", "rules", file);
      expect(status, `${output}\n${stringify(recording)}`).toBe(0);
      expect(output).toContain(`SUCCESS: ${recording.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
