import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pflow } from "../helpers/cli.ts";

// `pflow run` on the embedded store: it says each new version it registers,
// registers none for unchanged content, and sees the store's registry (the
// rule `serve` follows too), not only its --definitions directory.

const workflow = (name: string, greeting: string, comment = "") => `apiVersion: pflow/v1
kind: Workflow
metadata: { name: ${name} }
spec:
  nodes:${comment}
    say: { type: transform, expr: '"${greeting}"' }
  outputs: { said: "{{ nodes.say.output }}" }
`;

let dir: string;
const saved = { ...process.env };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pflow-run-"));
  for (const sub of ["a", "b"]) mkdirSync(join(dir, sub));
  process.env.PFLOW_STORE_URL = `sqlite:${join(dir, "pflow.db")}`;
  process.env.PFLOW_BROKER_URL = "memory:";
  process.env.PFLOW_LOG_LEVEL = "silent";
});
afterEach(() => {
  process.env = { ...saved };
});

describe("pflow run registering its definitions", () => {
  it("says each new version, and registers none for unchanged content (an edited comment included)", async () => {
    const file = join(dir, "a/hello.yaml");
    writeFileSync(file, workflow("hello", "hi"));
    const first = await pflow("run", "hello", "--definitions", join(dir, "a"));
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('pflow: registered workflow "hello" version 1 (new)\n');
    expect(JSON.parse(first.stdout)).toMatchObject({ output: { said: "hi" } });

    const again = await pflow("run", "hello", "--definitions", join(dir, "a"));
    expect(again.stderr).toBe("");

    writeFileSync(file, workflow("hello", "hi", " # a comment changes nothing that runs"));
    expect((await pflow("run", "hello", "--definitions", join(dir, "a"))).stderr).toBe("");

    writeFileSync(file, workflow("hello", "hello there"));
    const edited = await pflow("run", "hello", "--definitions", join(dir, "a"));
    expect(edited.stderr).toBe(
      'pflow: registered workflow "hello" version 2 (its content changed since version 1)\n',
    );
    expect(JSON.parse(edited.stdout)).toMatchObject({
      workflow: { name: "hello", version: 2 },
      output: { said: "hello there" },
    });
  }, 30_000);

  it("runs a workflow the store holds from another directory, as serve would; a typo gets a did-you-mean", async () => {
    writeFileSync(join(dir, "a/hello.yaml"), workflow("hello", "hi"));
    writeFileSync(join(dir, "b/other.yaml"), workflow("other", "yo"));
    expect((await pflow("run", "hello", "--definitions", join(dir, "a"))).code).toBe(0);

    const fromStore = await pflow("run", "hello", "--definitions", join(dir, "b"));
    expect(fromStore.code).toBe(0);
    expect(JSON.parse(fromStore.stdout)).toMatchObject({ output: { said: "hi" } });

    const typo = await pflow("run", "helo", "--definitions", join(dir, "b"));
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(
      'no workflow "helo" in the definitions or the store (did you mean "hello"?)',
    );
  }, 30_000);
});

describe("registrationLines", () => {
  it("says a first registration of many in one line, and each changed one on its own", async () => {
    const { registrationLines } = await import("../../cli/registration.ts");
    const lines = registrationLines({
      models: new Map([["writer", { version: 1, created: true }]]),
      workflows: new Map([
        ["a", { version: 1, created: true }],
        ["b", { version: 4, created: true }],
        ["c", { version: 2, created: false }],
      ]),
    });
    expect(lines).toEqual([
      'registered 2 new definitions (version 1): model "writer", workflow "a"',
      'registered workflow "b" version 4 (its content changed since version 3)',
    ]);
  });
});
