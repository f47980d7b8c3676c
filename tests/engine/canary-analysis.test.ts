import { afterEach, describe, expect, it } from "vitest";
import { type CompiledModel, validateDefinitions } from "../../compiler/index.ts";
import { CANARY_ANALYSIS_ACTOR, CanaryAnalysis, type CanaryReport } from "../../engine/canary-analysis.ts";
import { NO_OBSERVER } from "../../engine/observer.ts";
import { type Harness, harness } from "./harness.ts";
import { chatReply, errorReply, type FakeServer, startFakeServer } from "./providers/fake-openai-server.ts";

// Canary analysis on the embedded engine: real runs make real model calls, the
// workers' statistics land in the store, and one pass of the analysis (called
// directly, never on its timer) judges each canary and rolls back the worse.

const LISTING = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: listing }
spec:
  nodes:
    draft:
      type: model
      model: writer@production
      input: { fail: "{{ inputs.fail }}" }
      retry: { maxAttempts: 1 }
      onError: continue
`;

/** The same model, but by version: calls that do not go through the alias. */
const DIRECT = LISTING.replace("name: listing", "name: direct").replace("writer@production", "writer@2");

function writer(versions: { one: string; two: string }, canary: string): string {
  return `apiVersion: pflow/v1
kind: Model
metadata: { name: writer }
spec:
  versions:
    "1": { provider: mock, ${versions.one} }
    "2": { provider: mock, ${versions.two} }
  aliases:
    # the version in service, and the one on trial
    production:
      version: "1"
      canary: ${canary}
`;
}

const OK = "response: { text: fine }";

let h: Harness | undefined;
let fake: FakeServer | undefined;
afterEach(async () => {
  await h?.close();
  await fake?.close();
  h = undefined;
  fake = undefined;
});

/** Starts `n` runs at once and waits for them all; returns the versions they pinned. */
async function runMany(
  harnessed: Harness,
  n: number,
  workflow = "listing",
  input: unknown = { fail: false },
) {
  const { engine } = harnessed;
  const runs = await Promise.all(Array.from({ length: n }, () => engine.startRun({ workflow, input })));
  const finished = await Promise.all(runs.map((run) => engine.waitForRun(run.id, 20_000)));
  expect(finished.every((run) => run?.status === "succeeded")).toBe(true);
  await engine.services.calls.flush();
  return runs.map((run) => Object.values(run.models)[0]);
}

async function latestModel(harnessed: Harness): Promise<CompiledModel> {
  const record = await harnessed.engine.services.store.getDefinition("Model", "writer");
  return record?.compiled as CompiledModel;
}

async function history(harnessed: Harness) {
  const versions = await harnessed.engine.services.store.listDefinitionVersions("Model", "writer");
  return versions.map((v) => ({ version: v.version, actor: v.actor, reason: v.reason }));
}

describe("canary analysis", () => {
  it("rolls back a canary that fails more than its base: new runs go to the base, the history says who and why", async () => {
    h = await harness([
      LISTING,
      writer(
        { one: OK, two: 'error: "the canary is broken"' },
        '{ version: "2", percent: 50, autoRollback: { maxErrorRateDelta: 0.2, minCalls: 5 } }',
      ),
    ]);
    const pinned = await runMany(h, 30);
    expect(pinned).toContain("writer@2");

    const reports = await h.engine.canaries.analyse();
    expect(reports).toHaveLength(1);
    const [report] = reports as [CanaryReport];
    expect(report).toMatchObject({ model: "writer", alias: "production", rolledBack: true });
    expect(report.verdict).toMatchObject({
      decision: "roll-back",
      canary: { version: "2", errorRate: 1 },
      base: { version: "1", errorRate: 0 },
    });
    expect(report.verdict.reason).toMatch(
      /^canary 2 is worse than base 1: error rate 100\.0% against 0\.0%, more than 20 points above \(over \d+ and \d+ calls\)$/,
    );

    expect((await latestModel(h)).aliases.production).toEqual({ version: "1", canary: null });
    expect(await history(h)).toEqual([
      { version: 1, actor: null, reason: null },
      { version: 2, actor: CANARY_ANALYSIS_ACTOR, reason: `rolled back: ${report.verdict.reason}` },
    ]);
    // The document keeps its comments: only the canary went.
    const source = (await h.engine.services.store.getDefinition("Model", "writer"))?.source;
    expect(source).toContain("# the version in service, and the one on trial");
    expect(source).not.toContain("canary:");

    expect(new Set(await runMany(h, 10))).toEqual(new Set(["writer@1"]));
    // Nothing left to judge.
    expect(await h.engine.canaries.analyse()).toEqual([]);
  });

  it("keeps a canary as good as its base, and registers nothing", async () => {
    h = await harness([
      LISTING,
      writer(
        { one: OK, two: OK },
        '{ version: "2", percent: 50, autoRollback: { maxErrorRateDelta: 0.05, maxP95Ratio: 2, minCalls: 5 } }',
      ),
    ]);
    await runMany(h, 30);
    const [report] = await h.engine.canaries.analyse();
    expect(report).toMatchObject({ rolledBack: false, verdict: { decision: "keep" } });
    expect(report?.verdict.reason).toMatch(/^canary 2 is within limits: error rate 0\.0% against 0\.0%/);
    expect((await latestModel(h)).aliases.production?.canary).toMatchObject({ version: "2", percent: 50 });
    expect(await history(h)).toHaveLength(1);
  });

  it("rolls back a canary whose p95 is more than maxP95Ratio times its base's", async () => {
    h = await harness([
      LISTING,
      writer(
        { one: OK, two: `${OK}, latency: 300ms` },
        '{ version: "2", percent: 50, autoRollback: { maxP95Ratio: 2, minCalls: 3 } }',
      ),
    ]);
    await runMany(h, 20);
    const [report] = await h.engine.canaries.analyse();
    expect(report).toMatchObject({ rolledBack: true, verdict: { decision: "roll-back" } });
    // 300 ms falls in the 250–500 ms bucket; the base's answers in the first, under 50 ms.
    expect(report?.verdict.canary.p95Ms).toBeGreaterThan(250);
    expect(report?.verdict.base.p95Ms).toBeLessThanOrEqual(50);
    expect(report?.verdict.reason).toContain("more than 2×");
    expect((await latestModel(h)).aliases.production?.canary).toBeNull();
  });

  it("does not judge before the canary and its base have minCalls calls each", async () => {
    h = await harness([
      LISTING,
      writer(
        { one: OK, two: 'error: "broken"' },
        '{ version: "2", percent: 50, autoRollback: { maxErrorRateDelta: 0.1, minCalls: 1000 } }',
      ),
    ]);
    await runMany(h, 10);
    const [report] = await h.engine.canaries.analyse();
    expect(report).toMatchObject({ rolledBack: false, verdict: { decision: "wait" } });
    expect(report?.verdict.reason).toMatch(
      /^not judged yet: canary 2 has \d+ and base 1 \d+ of the 1000 calls each needs$/,
    );
    expect(await history(h)).toHaveLength(1);
  });

  it("leaves a canary without autoRollback alone, however bad", async () => {
    h = await harness([
      LISTING,
      writer({ one: OK, two: 'error: "broken"' }, '{ version: "2", percent: 50 }'),
    ]);
    await runMany(h, 20);
    expect(await h.engine.canaries.analyse()).toEqual([]);
    expect((await latestModel(h)).aliases.production?.canary).toMatchObject({ version: "2" });
  });

  it("reads only the calls made since the canary was set", async () => {
    let offset = 0;
    const clock = () => Date.now() + offset;
    const two = `response: "{{ input.fail ? $error('asked to fail') : { 'text': 'fine' } }}"`;
    h = await harness(
      [LISTING, DIRECT, writer({ one: OK, two }, "null").replace("      canary: null\n", "")],
      {
        clock,
      },
    );
    // Version 2 fails every call made to it directly, before it is a canary.
    await runMany(h, 10, "direct", { fail: true });
    // Ten minutes later it becomes the canary, and answers well through the alias.
    offset += 10 * 60_000;
    const current = await h.engine.services.store.getDefinition("Model", "writer");
    const withCanary = current?.source.replace(
      'version: "1"\n',
      'version: "1"\n      canary: { version: "2", percent: 50, autoRollback: { maxErrorRateDelta: 0.1, minCalls: 5 } }\n',
    ) as string;
    await h.engine.services.catalog.register(
      validateDefinitions([{ path: "writer.yaml", text: withCanary }], { resolve: false }),
      clock(),
    );
    await runMany(h, 30);

    const [report] = await h.engine.canaries.analyse();
    const set = (await setAt(h)) as number;
    expect(set).toBeGreaterThanOrEqual(Date.now() + 9 * 60_000);
    expect(report?.since).toBe(set - (set % 60_000));
    expect(report?.verdict).toMatchObject({ decision: "keep", canary: { errorRate: 0 } });
    // The direct calls are still in the store: a window from before the canary would have seen them.
    const all = await h.engine.services.store.modelCalls(["writer@2"], 0);
    expect(all["writer@2"]?.errors).toBe(10);
  });

  it("of two analyses of one canary at once (two processes), exactly one rolls it back", async () => {
    const observed: CanaryReport[] = [];
    h = await harness(
      [
        LISTING,
        writer(
          { one: OK, two: 'error: "broken"' },
          '{ version: "2", percent: 50, autoRollback: { maxErrorRateDelta: 0.2, minCalls: 5 } }',
        ),
      ],
      { observer: { ...NO_OBSERVER, canaryAnalysed: (report) => observed.push(report) } },
    );
    await runMany(h, 30);
    const other = new CanaryAnalysis(h.engine.services);
    const [mine, theirs] = await Promise.all([h.engine.canaries.analyse(), other.analyse()]);
    const all = [...(mine ?? []), ...(theirs ?? [])];
    expect(all.map((report) => report.verdict.decision)).toEqual(["roll-back", "roll-back"]);
    expect(all.filter((report) => report.rolledBack)).toHaveLength(1);
    expect(observed.filter((report) => report.rolledBack)).toHaveLength(1);
    expect((await history(h)).map((entry) => entry.actor)).toEqual([null, CANARY_ANALYSIS_ACTOR]);
  });

  it("does not overwrite a move made after the verdict was reached", async () => {
    h = await harness([
      LISTING,
      writer(
        { one: OK, two: 'error: "broken"' },
        '{ version: "2", percent: 50, autoRollback: { maxErrorRateDelta: 0.2, minCalls: 5 } }',
      ),
    ]);
    await runMany(h, 30);
    // An operator promotes a third version while the analysis is judging the canary.
    const { store, catalog } = h.engine.services;
    const modelCalls = store.modelCalls.bind(store);
    store.modelCalls = async (models, since) => {
      const figures = await modelCalls(models, since);
      const current = await store.getDefinition("Model", "writer");
      const promoted = current?.source.replace(/production:[\s\S]*$/, 'production: "2"\n') as string;
      await catalog.register(
        validateDefinitions([{ path: "w.yaml", text: promoted }], { resolve: false }),
        Date.now(),
        "operator",
      );
      return figures;
    };
    const [report] = await h.engine.canaries.analyse();
    expect(report).toMatchObject({ rolledBack: false, verdict: { decision: "roll-back" } });
    expect((await latestModel(h)).aliases.production).toEqual({ version: "2", canary: null });
    expect((await history(h)).map((entry) => entry.actor)).toEqual([null, "operator"]);
  });

  it("rolls back an OpenAI-compatible canary whose server answers errors (real HTTP)", async () => {
    fake = await startFakeServer();
    fake.respond((request) =>
      request.path.startsWith("/canary/")
        ? errorReply(500, "the canary's server is down")
        : chatReply("fine"),
    );
    const model = `apiVersion: pflow/v1
kind: Model
metadata: { name: writer }
spec:
  versions:
    "1": { provider: openai, endpoint: "${fake.url}/v1", model: small }
    "2": { provider: openai, endpoint: "${fake.url}/canary/v1", model: small-next }
  aliases:
    production:
      version: "1"
      canary: { version: "2", percent: 50, autoRollback: { maxErrorRateDelta: 0.1, minCalls: 4 } }
`;
    const prompt = LISTING.replace(
      'input: { fail: "{{ inputs.fail }}" }',
      'input: { prompt: "Describe a flat" }',
    );
    h = await harness([prompt, model]);
    await runMany(h, 24);
    expect(fake.requests.some((request) => request.path.startsWith("/canary/"))).toBe(true);

    const [report] = await h.engine.canaries.analyse();
    expect(report).toMatchObject({
      rolledBack: true,
      verdict: { decision: "roll-back", canary: { errorRate: 1 } },
    });

    fake.requests.length = 0;
    await runMany(h, 10);
    expect(fake.requests).toHaveLength(10);
    expect(fake.requests.every((request) => request.path === "/v1/chat/completions")).toBe(true);
  });
});

/** When the model's current canary was set (the latest version's creation). */
async function setAt(harnessed: Harness): Promise<number | undefined> {
  return (await harnessed.engine.services.store.getDefinition("Model", "writer"))?.createdAt;
}
