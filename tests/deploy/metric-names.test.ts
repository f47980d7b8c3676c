import { readFileSync } from "node:fs";
import { join } from "node:path";
import { collectDefaultMetrics, Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createMetrics } from "../../server/metrics.ts";
import { allRoutes } from "../../server/routes/index.ts";
import { opsRoutes } from "../../server/routes/ops.ts";
import { type TestServer, testServer } from "../server/harness.ts";
import {
  CANARIED_MODEL,
  LIMITS_DEFINITIONS,
  METRICS_WORKFLOW,
  SHAKY_MODEL,
  writerModel,
} from "../server/metrics-fixtures.ts";

// Every metric an alert or a dashboard query names is one the app exports: the
// names come from a real server's GET /metrics after real runs (so labelled
// metrics have series), and from the queries by a PromQL tokenizer. A renamed
// metric, or a typo in a query, fails here instead of on a silent dashboard or
// an alert that can never fire.

const ROOT = join(import.meta.dirname, "../..");
/** Names a query may use that pflow does not export: Prometheus's own. */
const PROMETHEUS_OWN = new Set(["up"]);

// ---------------------------------------------------------------------------
// PromQL: the metric names of an expression

const AGGREGATORS = new Set([
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile",
  "limitk",
  "limit_ratio",
]);
/** Keywords followed by a list of label names in parentheses (optional for group_left/right). */
const LABEL_LISTS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
/** Keywords and number literals that look like identifiers. */
const KEYWORDS = new Set(["and", "or", "unless", "atan2", "bool", "offset", "inf", "nan"]);

/** Index just past the string literal that starts at `i` ("…", '…' or `…`). */
function skipString(text: string, i: number): number {
  const quote = text[i];
  let j = i + 1;
  while (j < text.length && text[j] !== quote) j += quote !== "`" && text[j] === "\\" ? 2 : 1;
  if (j >= text.length) throw new Error(`unterminated string at ${i} in ${text}`);
  return j + 1;
}

/** Index of the bracket that closes the one at `i`, skipping strings. */
function closing(text: string, i: number): number {
  const open = text[i] as string;
  const close = ({ "{": "}", "[": "]", "(": ")" } as Record<string, string>)[open];
  let depth = 0;
  for (let j = i; j < text.length; ) {
    const c = text[j];
    if (c === '"' || c === "'" || c === "`") {
      j = skipString(text, j);
      continue;
    }
    if (c === open) depth++;
    else if (c === close && --depth === 0) return j;
    j++;
  }
  throw new Error(`unclosed ${open} at ${i} in ${text}`);
}

/** The next index at or after `i` that is not white space. */
function nextToken(text: string, i: number): number {
  let j = i;
  while (j < text.length && /\s/.test(text[j] as string)) j++;
  return j;
}

/**
 * The metric names an expression selects: identifiers followed by `{`, `[`,
 * white space, an operator or the end, and `__name__="…"` matchers. Not
 * functions (an identifier before `(`), aggregation operators, keywords, label
 * names (inside braces, or in the list after by/without/on/ignoring/
 * group_left/group_right), strings, numbers, durations and Grafana variables.
 */
function metricNames(expr: string): string[] {
  const names = new Set<string>();
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "#") {
      while (i < expr.length && expr[i] !== "\n") i++;
    } else if (c === '"' || c === "'" || c === "`") {
      i = skipString(expr, i);
    } else if (c === "{") {
      const end = closing(expr, i);
      for (const m of expr.slice(i + 1, end).matchAll(/(?:^|[\s,])__name__\s*=\s*"([^"]+)"/g))
        names.add(m[1] as string);
      i = end + 1;
    } else if (c === "[") {
      i = closing(expr, i) + 1; // a range or subquery: durations, or Grafana's $__rate_interval
    } else if (c === "$") {
      i++; // a Grafana variable: $name or ${name}
      if (expr[i] === "{") i = closing(expr, i) + 1;
      else while (i < expr.length && /\w/.test(expr[i] as string)) i++;
    } else if (/[0-9.]/.test(c)) {
      while (i < expr.length && /[\w.]/.test(expr[i] as string)) i++; // 0.99, 1e3, 0x1f, 5m, 1h30m
    } else if (/[a-zA-Z_:]/.test(c)) {
      let j = i;
      while (j < expr.length && /[\w:]/.test(expr[j] as string)) j++;
      const word = expr.slice(i, j);
      const lower = word.toLowerCase();
      const next = nextToken(expr, j);
      i = j;
      if (LABEL_LISTS.has(lower)) {
        if (expr[next] === "(") i = closing(expr, next) + 1;
      } else if (KEYWORDS.has(lower)) {
        // and, or, offset… and Inf, NaN
      } else if (
        AGGREGATORS.has(lower) &&
        (expr[next] === "(" || /^(by|without)\b/i.test(expr.slice(next)))
      ) {
        // sum (…), sum by (…) (…)
      } else if (expr[next] !== "(") {
        names.add(word); // rate(…), histogram_quantile(…), absent(…) are functions
      }
    } else {
      i++; // operators, parentheses, commas, @
    }
  }
  return [...names];
}

// ---------------------------------------------------------------------------
// What the alerts and the dashboard query

interface Query {
  readonly where: string;
  readonly expr: string;
}

function alertQueries(): Query[] {
  const file = parse(readFileSync(join(ROOT, "helm/pflow/files/alerts.yaml"), "utf8")) as {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  };
  return file.groups.flatMap((g) =>
    g.rules.map((r) => ({ where: `alert ${r.alert ?? r.record}`, expr: String(r.expr) })),
  );
}

interface Panel {
  title: string;
  type: string;
  targets?: { refId?: string; expr?: string }[];
  panels?: Panel[];
}

function dashboardQueries(): Query[] {
  const dashboard = JSON.parse(readFileSync(join(ROOT, "helm/pflow/files/dashboard.json"), "utf8")) as {
    panels: Panel[];
    templating: { list: { name: string; type: string; definition?: string }[] };
  };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const targets = panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr ?? "" })),
  );
  // Variables: Grafana's label_values(<selector>, <label>); its selector is PromQL.
  const variables = dashboard.templating.list
    .filter((v) => v.type === "query")
    .map((v) => {
      const selector = /^label_values\((.*),\s*\w+\)$/s.exec(v.definition ?? "")?.[1];
      if (selector === undefined) throw new Error(`variable ${v.name}: not label_values(…): ${v.definition}`);
      return { where: `variable ${v.name}`, expr: selector };
    });
  return [...targets, ...variables];
}

// ---------------------------------------------------------------------------
// What the app exports

interface Exposition {
  /** Names a query may select: counters and gauges, and histograms' _bucket, _sum and _count. */
  readonly selectable: Set<string>;
  /** Names with at least one sample. */
  readonly sampled: Set<string>;
  /** Base names from the # TYPE lines. */
  readonly declared: Map<string, string>;
}

function exposition(text: string): Exposition {
  const declared = new Map<string, string>();
  const sampled = new Set<string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) declared.set(type[1] as string, type[2] as string);
    else if (line !== "" && !line.startsWith("#")) sampled.add(/^[a-zA-Z_:][\w:]*/.exec(line)?.[0] as string);
  }
  const selectable = new Set<string>();
  for (const [name, type] of declared) {
    if (type === "histogram")
      for (const suffix of ["_bucket", "_sum", "_count"]) selectable.add(name + suffix);
    else if (type === "summary") for (const suffix of ["", "_sum", "_count"]) selectable.add(name + suffix);
    else selectable.add(name);
  }
  return { selectable, sampled, declared };
}

// A workflow that leaves a series in every labelled metric: a cached, priced
// model call (tokens, cost, a cache miss then a hit), a model that fails once
// (a retry), a transform; and a model whose canary canary analysis judges.
const WORKFLOW = METRICS_WORKFLOW;
const WRITER = writerModel(true);
const SHAKY = SHAKY_MODEL;
const TRIGGERED = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: triggered }
spec:
  triggers:
    - cron: "0 3 * * *"
  nodes:
    echo: { type: transform, expr: "inputs" }
`;

let server: TestServer | undefined;
let exported: Exposition;

beforeAll(async () => {
  const metrics = createMetrics();
  server = await testServer({
    definitions: [WORKFLOW, WRITER, SHAKY, CANARIED_MODEL, TRIGGERED, ...LIMITS_DEFINITIONS],
    routes: allRoutes(metrics),
    observer: metrics.observer,
  });
  // The canary is judged (not yet: too few calls), which starts its rollbacks series at 0.
  expect((await server.engine.canaries.analyse()).map((report) => report.verdict.decision)).toEqual(["wait"]);
  // Knowing a trigger starts its fired and failed series at 0.
  await server.engine.triggers.refresh();
  // One after the other, so that the second run finds the first one's answer in the cache.
  for (let i = 0; i < 2; i++) {
    const run = await server.engine.startRun({ workflow: "describe-listing", input: { text: "Leith" } });
    expect((await server.engine.waitForRun(run.id, 10_000))?.status).toBe("succeeded");
  }
  // A rate-limit wait and an open circuit breaker.
  const limits = await server.engine.startRun({ workflow: "limits", input: {} });
  expect((await server.engine.waitForRun(limits.id, 10_000))?.status).toBe("succeeded");
  const response = await server.request("GET", "/metrics", { key: null });
  expect(response.status).toBe(200);
  exported = exposition(response.text);
}, 30_000);

afterAll(async () => {
  await server?.close();
});

// ---------------------------------------------------------------------------

describe("the PromQL tokenizer", () => {
  it.each([
    [
      'sum by (workflow, status) (rate(pflow_runs_finished_total{workflow=~"$workflow", status!="a,b"}[$__rate_interval]))',
      ["pflow_runs_finished_total"],
    ],
    [
      'histogram_quantile(0.99, sum by (model, le) (rate(a_bucket{type="model"}[10m]))) > 60\nand on (model) sum by (model) (increase(a_count[10m])) >= 10',
      ["a_bucket", "a_count"],
    ],
    ['absent(up{job="w"} == 1 unless on (instance) b{job="w"} == 0)', ["up", "b"]],
    [
      "x offset 5m + y @ 1609746000 - max_over_time(z[5m:1m]) * ignoring(le) group_left(t) w",
      ["x", "y", "z", "w"],
    ],
    ["sum without (instance) (rate(m[5m])) / count(n) by (job) > bool 3", ["m", "n"]],
    ["a * on (job) group_left b", ["a", "b"]],
    ['{__name__="q", job="j"} or count_values("version", v)', ["q", "v"]],
    ['label_replace(m, "dst", "$1", "src", "(.*)") / 1e3 * Inf + NaN - 0x1f', ["m"]],
    ["# a comment naming not_a_metric\nfoo:rate5m / on() group_right() bar", ["foo:rate5m", "bar"]],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
    ['sum(rate(pflow_cost_total{model=~"${model}"}[$__rate_interval])) * 3600', ["pflow_cost_total"]],
    ['topk(5, sum by (le) (k{a="}"}))', ["k"]],
  ])("%s", (expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });
});

describe("metric names in the alerts and the dashboard", () => {
  const queries = [...alertQueries(), ...dashboardQueries()];

  it("finds queries, each naming at least one metric", () => {
    expect(queries.length).toBeGreaterThan(20);
    for (const query of queries) expect(metricNames(query.expr), query.where).not.toEqual([]);
  });

  it("names only pflow metrics the app exports (histograms by _bucket, _sum, _count), or Prometheus's up", () => {
    expect(exported.selectable.size).toBeGreaterThan(20);
    const unknown = queries.flatMap((query) =>
      metricNames(query.expr)
        .filter((name) => !exported.selectable.has(name) && !PROMETHEUS_OWN.has(name))
        .map((name) => `${query.where}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it("names metrics that have series after a run (none that stays empty)", () => {
    const empty = queries.flatMap((query) =>
      metricNames(query.expr)
        .filter((name) => !PROMETHEUS_OWN.has(name) && !exported.sampled.has(name))
        .map((name) => `${query.where}: ${name}`),
    );
    expect(empty).toEqual([]);
  });

  it("covers every pflow metric of the app (beyond Node's defaults) in the dashboard", () => {
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults, prefix: "pflow_" });
    const defaultNames = new Set(defaults.getMetricsAsArray().map((m) => m.name));
    const appMetrics = [...exported.declared.keys()].filter((name) => !defaultNames.has(name));
    expect(appMetrics).toContain("pflow_queue_oldest_age_seconds");
    expect(appMetrics).toContain("pflow_backend_up");
    const used = new Set(dashboardQueries().flatMap((q) => metricNames(q.expr)));
    const missing = appMetrics.filter(
      (name) => ![name, `${name}_bucket`, `${name}_count`, `${name}_sum`].some((n) => used.has(n)),
    );
    expect(missing).toEqual([]);
  });
});

describe("the gauges the alerts read", () => {
  it("pflow_backend_up: 1 for each backend that answers, 0 for one that does not", async () => {
    const metrics = createMetrics();
    const s = await testServer({ routes: [opsRoutes(metrics)], observer: metrics.observer });
    try {
      const before = await s.request("GET", "/metrics", { key: null });
      expect(before.text).toMatch(/^pflow_backend_up\{backend="store"\} 1$/m);
      expect(before.text).toMatch(/^pflow_backend_up\{backend="broker"\} 1$/m);
      await s.engine.services.store.close();
      const after = await s.request("GET", "/metrics", { key: null });
      expect(after.status).toBe(200);
      expect(after.text).toMatch(/^pflow_backend_up\{backend="store"\} 0$/m);
      expect(after.text).toMatch(/^pflow_backend_up\{backend="broker"\} 1$/m);
    } finally {
      await s.close();
    }
  });

  it("pflow_queue_oldest_age_seconds: NaN without a source or when it fails, 0 when none waits, else the age", async () => {
    const metrics = createMetrics();
    // prom-client writes NaN as "Nan", which Prometheus reads (case-insensitively) as NaN.
    const scrape = async () =>
      /^pflow_queue_oldest_age_seconds (\S+)$/m.exec(await metrics.registry.metrics())?.[1];
    expect(await scrape()).toMatch(/^nan$/i);
    metrics.setQueueOldestSource(async () => null);
    expect(await scrape()).toBe("0");
    let asked: number | undefined;
    metrics.setQueueOldestSource(async (now) => {
      asked = now;
      return now - 90_000;
    });
    expect(await scrape()).toBe("90");
    expect(Math.abs((asked ?? 0) - Date.now())).toBeLessThan(5_000);
    metrics.setQueueOldestSource(async () => {
      throw new Error("store gone");
    });
    expect(await scrape()).toMatch(/^nan$/i);
  });
});
