import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testCommand } from "../../cli/test-command.ts";
import { pflow } from "../helpers/cli.ts";

// A workflow with every kind of node a test mocks: transforms, a model on a
// mock model, a map of model calls, and a model on an openai model (which a
// test must mock: it would reach the network).
const WORKFLOW = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: greet }
spec:
  inputs:
    type: object
    required: [name]
    properties:
      name: { type: string, minLength: 1 }
      tags: { type: array, items: { type: string }, default: [a, b] }
  nodes:
    shout: { type: transform, expr: "$uppercase(inputs.name)" }
    write:
      type: model
      model: writer
      retry: { maxAttempts: 3, backoff: fixed, delay: 10s }
      input: { prompt: "Greet {{ nodes.shout.output }}" }
    each:
      type: map
      items: "{{ inputs.tags }}"
      node: { type: model, model: writer, input: { prompt: "tag {{ item }}" } }
    polish:
      type: model
      model: remote
      onError: continue
      input: { prompt: "{{ nodes.write.output.text }}" }
  outputs:
    greeting: "{{ nodes.write.output.text }}"
    tags: "{{ nodes.each.output.text }}"
    polished: "{{ nodes.polish.output.text }}"
`;
const MODELS = `apiVersion: pflow/v1
kind: Model
metadata: { name: writer }
spec:
  versions:
    "1": { provider: mock, response: { text: "{{ 'mock: ' & input.prompt }}" } }
---
apiVersion: pflow/v1
kind: Model
metadata: { name: remote }
spec:
  versions:
    "1": { provider: openai, endpoint: "https://llm.example/v1", model: big, apiKeySecret: LLM_KEY }
`;

function testDocument(cases: string): string {
  return `apiVersion: pflow/v1
kind: WorkflowTest
metadata: { name: greet }
spec:
  workflow: greet
  cases:
${cases}`;
}

const PASSING = testDocument(`    - name: greets with the mock model
      input: { name: ada }
      models: { remote: { output: { text: polished } } }
      expect:
        output: { greeting: "mock: Greet ADA", tags: ["mock: tag a", "mock: tag b"], polished: polished }
        nodes: { shout: succeeded, write: succeeded, each: succeeded }
        attempts: { write: 1 }
        assert: "nodes.shout.output = 'ADA' and $count(nodes.each.items) = 2"
    - name: retries per attempt, at once
      input: { name: bo }
      mocks:
        write: { outputs: [{ error: { code: busy, message: "503" } }, { error: { code: busy, message: "503" } }, { output: { text: third } }] }
        polish: { output: { text: p } }
      expect:
        output: { greeting: third }
        attempts: { write: 3 }
    - name: a map's mock answers for each item
      input: { name: cy, tags: [x, y, z] }
      mocks:
        each: { output: { text: same } }
        polish: { output: { text: p } }
      expect:
        output: { tags: [same, same, same] }
        assert: "$count(nodes.each.items[attempts = 1]) = 3"
    - name: a failing node fails the run
      input: { name: di }
      mocks:
        write: { error: { code: rejected, message: "400", retryable: false } }
      expect:
        status: failed
        nodes: { write: failed, polish: skipped }
        attempts: { write: 1 }
        assert: "nodes.write.error.code = 'rejected' and error != null"
    - name: a refused input
      input: { name: "" }
      expect:
        status: rejected
        assert: "$contains(error.message, 'name')"
`);

const FAILING = testDocument(`    - name: expects what did not happen
      input: { name: ed }
      models: { remote: { output: { text: p } } }
      expect:
        output: { greeting: hello, extra: 1, tags: [one] }
        nodes: { write: failed }
        attempts: { write: 2 }
        assert: "nodes.shout.output = 'nope'"
    - name: reaches for the network
      input: { name: fa }
      expect:
        status: succeeded
`);

let dir: string;
let cwd: string;
beforeAll(() => {
  cwd = process.cwd();
  dir = mkdtempSync(join(tmpdir(), "pflow-test-"));
  for (const set of ["passing", "failing", "invalid", "empty"]) mkdirSync(join(dir, set));
  for (const set of ["passing", "failing", "invalid"]) {
    writeFileSync(join(dir, set, "greet.yaml"), WORKFLOW);
    writeFileSync(join(dir, set, "models.yaml"), MODELS);
  }
  writeFileSync(join(dir, "passing/greet.test.yaml"), PASSING);
  writeFileSync(join(dir, "failing/greet.test.yaml"), FAILING);
  writeFileSync(
    join(dir, "invalid/greet.test.yaml"),
    testDocument(`    - name: mocks a node that is not there
      mocks: { wrtie: { output: 1 } }
`),
  );
  writeFileSync(join(dir, "empty/greet.yaml"), WORKFLOW);
  writeFileSync(join(dir, "empty/models.yaml"), MODELS);
  process.chdir(dir);
});
afterAll(() => process.chdir(cwd));

describe("pflow test", () => {
  it("runs every case and exits 0 when all pass: mocks by id, per attempt, per map item, models by name, retries at once", async () => {
    const started = Date.now();
    const result = await pflow("test", "passing");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines.slice(0, -1).map((line) => line.replace(/ \(\d+ ms\)$/, ""))).toEqual([
      "✓ greet › greets with the mock model  passing/greet.test.yaml:7",
      "✓ greet › retries per attempt, at once  passing/greet.test.yaml:15",
      "✓ greet › a map's mock answers for each item  passing/greet.test.yaml:23",
      "✓ greet › a failing node fails the run  passing/greet.test.yaml:31",
      "✓ greet › a refused input  passing/greet.test.yaml:40",
    ]);
    expect(lines.at(-1)).toMatch(/^5 cases in 1 test: 5 passed, 0 failed \(\d+\.\d{3} s\)$/);
    // Three attempts with a 10 s fixed backoff, had the delays been waited for.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("shows what differed under each failed case, and exits 1", async () => {
    const result = await pflow("test", "failing");
    expect(result.code).toBe(1);
    const text = result.stdout.replaceAll(/ \(\d+ ms\)/g, "");
    expect(text).toContain(
      [
        "✗ greet › expects what did not happen  failing/greet.test.yaml:7",
        '    output.greeting: expected "hello", got "mock: Greet ED"',
        "    output.extra: expected 1, got nothing (no such key)",
        '    output.tags: expected 1 items, got 2: ["mock: tag a","mock: tag b"]',
        "    nodes.write: expected failed, got succeeded",
        "    attempts.write: expected 2, got 1",
        `    assert "nodes.shout.output = 'nope'": gave false, not true`,
      ].join("\n"),
    );
    // An unmocked openai model fails its node and the case, whatever the case expects.
    expect(text).toContain(
      '✗ greet › reaches for the network  failing/greet.test.yaml:15\n    node "polish" calls remote@1, a model of provider openai: tests never reach the network; mock the node (mocks.polish) or the model (models.remote), or point it at a mock version\n',
    );
    expect(text).toMatch(/2 cases in 1 test: 0 passed, 2 failed/);
  });

  it("--format junit prints JUnit XML with a failure per failed case", async () => {
    const result = await pflow("test", "--format", "junit", "failing");
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="pflow test" tests="2" failures="2" errors="0" time="\d+\.\d{3}">/,
    );
    expect(result.stdout).toContain('<testsuite name="greet" tests="2" failures="2" errors="0" skipped="0"');
    expect(result.stdout).toMatch(
      /<testcase name="expects what did not happen" classname="greet" file="failing\/greet.test.yaml" line="7" time="\d+\.\d{3}">\n {6}<failure message="output.greeting: expected &quot;hello&quot;, got &quot;mock: Greet ED&quot;" type="pflow.expectation">/,
    );
    expect(result.stdout.trimEnd().endsWith("</testsuites>")).toBe(true);
  });

  it("--format github annotates the line of each failing case", async () => {
    const result = await pflow("test", "--format", "github", "failing");
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^::error file=failing\/greet.test.yaml,line=7,col=7,title=greet › expects what did not happen::output.greeting: expected "hello", got "mock: Greet ED"%0Aoutput.extra: /,
    );
    expect(lines[1]).toMatch(/^::error file=failing\/greet.test.yaml,line=15,col=7,/);
    expect(lines.at(-1)).toMatch(/^2 cases in 1 test: 0 passed, 2 failed/);
  });

  it("a test of one file runs against the definitions beside it, and runs only that file's cases", async () => {
    writeFileSync(
      join(dir, "passing/second.test.yaml"),
      testDocument(
        "    - name: another\n      input: { name: x }\n      models: { remote: { output: { text: p } } }\n",
      ).replace("name: greet }", "name: second }"),
    );
    const result = await pflow("test", "passing/second.test.yaml");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^✓ second › another {2}passing\/second.test.yaml:7 \(\d+ ms\)\n1 case in 1 test: 1 passed/,
    );
  });

  it("definitions that are not valid: the findings at their line:col, no test runs, exit 2", async () => {
    const result = await pflow("test", "invalid");
    expect(result.code).toBe(2);
    expect(result.stdout).toBe(
      'invalid/greet.test.yaml:8:16: error unknown-node: a mock names node "wrtie", which workflow "greet" does not have (did you mean "write"?)\n',
    );
    expect(result.stderr).toBe("pflow test: the definitions are not valid; no test ran\n");
  });

  it("usage errors exit 2: no tests, a bad format, timeout or parallel, a missing path", async () => {
    expect(await pflow("test", "empty")).toMatchObject({
      code: 2,
      stderr: "pflow: no WorkflowTest documents in empty (kind: WorkflowTest)\nRun pflow --help for usage.\n",
    });
    expect((await pflow("test", "--format", "tap", "passing")).code).toBe(2);
    expect((await pflow("test", "--timeout", "soon", "passing")).stderr).toContain(
      '--timeout must be a duration such as 30s or 2m, not "soon"',
    );
    expect((await pflow("test", "--parallel", "0", "passing")).code).toBe(2);
    expect(await pflow("test", "nowhere")).toMatchObject({
      code: 2,
      stderr: "pflow: nowhere: no such file or directory\n",
    });
  });

  it("a case that does not finish in its timeout fails, naming what is still running", async () => {
    mkdirSync(join(dir, "slow"));
    writeFileSync(
      join(dir, "slow/slow.yaml"),
      `apiVersion: pflow/v1
kind: Workflow
metadata: { name: slow }
spec:
  nodes:
    think: { type: model, model: sloth, input: { q: 1 } }
---
apiVersion: pflow/v1
kind: Model
metadata: { name: sloth }
spec:
  versions:
    "1": { provider: mock, latency: 1h, response: { a: 1 } }
---
apiVersion: pflow/v1
kind: WorkflowTest
metadata: { name: slow }
spec:
  workflow: slow
  cases:
    - name: waits too long
      timeout: 300ms
`,
    );
    const result = await pflow("test", "slow");
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      "    the run did not finish within 300 ms; unfinished: think (running)\n",
    );
  });

  it("--watch runs again when a file changes, until stopped", async () => {
    const controller = new AbortController();
    let stdout = "";
    const done = testCommand(
      ["--watch", "passing/greet.test.yaml"],
      {
        stdout: (text) => {
          stdout += text;
        },
        stderr: () => {},
      },
      { signal: controller.signal },
    );
    await until(() => stdout.includes("watching for changes"));
    // A change to the workflow beside the test file counts too.
    writeFileSync(join(dir, "passing/greet.yaml"), `${WORKFLOW}\n`);
    await until(() => stdout.includes("greet.yaml changed: running again"));
    await until(() => (stdout.match(/5 passed, 0 failed/g) ?? []).length >= 2);
    writeFileSync(
      join(dir, "passing/greet.test.yaml"),
      PASSING.replace("output: { greeting: third }", "output: { greeting: fourth }"),
    );
    await until(() => stdout.includes("changed: running again"));
    await until(() => stdout.includes("4 passed, 1 failed"));
    controller.abort();
    expect(await done).toBe(1);
    writeFileSync(join(dir, "passing/greet.test.yaml"), PASSING);
  });

  it("runs through Node 24 and exits with the suite's code", async () => {
    const run = promisify(execFile);
    const bin = join(cwd, "cli/pflow.js");
    const node = join(cwd, "node_modules/.bin/node");
    const ok = await run(node, [bin, "test", "passing/greet.test.yaml"], { cwd: dir });
    expect(ok.stdout).toMatch(/5 passed, 0 failed/);
    const failed = await run(node, [bin, "test", "failing"], { cwd: dir }).catch((error) => error);
    expect(failed.code).toBe(1);
  }, 60_000);
});

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
