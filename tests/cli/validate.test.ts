import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pflow } from "../helpers/cli.ts";

const VALID = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: ok }
spec:
  nodes:
    fetch_comp: { type: transform, expr: "1" }
`;
const INVALID = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: bad }
spec:
  nodes:
    fetch_comp: { type: transform, expr: "1" }
    score:
      type: transform
      expr: "2"
      needs: [fetch_comps]
`;

let dir: string;
let cwd: string;
beforeAll(() => {
  cwd = process.cwd();
  dir = mkdtempSync(join(tmpdir(), "pflow-cli-"));
  mkdirSync(join(dir, "defs/nested"), { recursive: true });
  mkdirSync(join(dir, "defs/.github"), { recursive: true });
  mkdirSync(join(dir, "empty"));
  mkdirSync(join(dir, "other"));
  writeFileSync(join(dir, "defs/ok.yaml"), VALID);
  writeFileSync(join(dir, "defs/nested/bad.yml"), INVALID);
  writeFileSync(join(dir, "defs/.github/ci.yaml"), "on: push\n");
  writeFileSync(join(dir, "defs/compose.yaml"), "services: { db: { image: mongo } }\n");
  writeFileSync(join(dir, "other/values.yaml"), "replicas: 2\n");
  writeFileSync(join(dir, "empty.yaml"), "");
  writeFileSync(join(dir, "not-yaml.yaml"), "\u0000\u0001PNG\n\t{[}\n:::\n");
  process.chdir(dir);
});
afterAll(() => process.chdir(cwd));

describe("pflow validate", () => {
  it("prints only the summary line and exits 0 for valid definitions", async () => {
    expect(await pflow("validate", "defs/ok.yaml")).toEqual({
      code: 0,
      stdout: "1 file, 0 errors, 0 warnings\n",
      stderr: "",
    });
  });

  it("ends the text output with a summary line that counts files, errors and warnings", async () => {
    writeFileSync(
      join(dir, "warns.yaml"),
      `${VALID.replace("name: ok", "name: warns")}    later: { type: transform, expr: "$count(nodes.*)" }\n`,
    );
    const result = await pflow("validate", "defs", "warns.yaml");
    expect(result.stdout.trimEnd().split("\n").at(-1)).toBe("3 files, 1 error, 1 warning");
    expect((await pflow("validate", "defs", "--format", "github")).stdout).not.toContain("files,");
  });

  it("prints one compiler-style line per finding and exits 1", async () => {
    const result = await pflow("validate", "defs");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      'defs/nested/bad.yml:10:15: error unknown-node: "needs" refers to node "fetch_comps", which does not exist (did you mean "fetch_comp"?)\n' +
        "2 files, 1 error, 0 warnings\n",
    );
  });

  it("walks directories, skipping hidden ones and YAML that is not pflow's", async () => {
    const result = await pflow("validate", "defs", "--format", "json");
    const report = JSON.parse(result.stdout);
    expect(report.files.map((f: { path: string }) => f.path)).toEqual([
      "defs/nested/bad.yml",
      "defs/ok.yaml",
    ]);
    expect(report.skipped).toEqual(["defs/compose.yaml"]);
  });

  it("--format json has the interfaces spec's shape", async () => {
    const report = JSON.parse((await pflow("validate", "defs/nested/bad.yml", "--format", "json")).stdout);
    expect(report).toEqual({
      valid: false,
      files: [
        {
          path: "defs/nested/bad.yml",
          valid: false,
          documents: [{ kind: "Workflow", name: "bad" }],
          errors: [
            {
              line: 10,
              column: 15,
              code: "unknown-node",
              message:
                '"needs" refers to node "fetch_comps", which does not exist (did you mean "fetch_comp"?)',
              pointer: "/spec/nodes/score/needs/0",
              document: 0,
            },
          ],
          warnings: [],
        },
      ],
    });
  });

  it("--format github prints workflow-command annotations", async () => {
    const { stdout } = await pflow("validate", "defs/nested/bad.yml", "--format", "github");
    expect(stdout).toBe(
      '::error file=defs/nested/bad.yml,line=10,col=15,title=unknown-node::"needs" refers to node "fetch_comps", which does not exist (did you mean "fetch_comp"?)\n',
    );
  });

  it("validates the paths given as one set, so references cross files", async () => {
    writeFileSync(
      join(dir, "caller.yaml"),
      VALID.replace("name: ok", "name: caller").replace(
        '{ type: transform, expr: "1" }',
        "{ type: workflow, workflow: ok }",
      ),
    );
    expect((await pflow("validate", "caller.yaml")).code).toBe(1);
    expect((await pflow("validate", "caller.yaml", "defs/ok.yaml")).code).toBe(0);
    expect((await pflow("validate", "caller.yaml", "--no-resolve")).code).toBe(0);
  });

  it("an empty file is invalid, with a message", async () => {
    expect(await pflow("validate", "empty.yaml")).toMatchObject({
      code: 1,
      stdout:
        "empty.yaml:1:1: error empty-file: the file holds no YAML documents\n1 file, 1 error, 0 warnings\n",
    });
  });

  it("a file that is not YAML is invalid, with a message", async () => {
    const result = await pflow("validate", "not-yaml.yaml");
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^not-yaml\.yaml:\d+:\d+: error yaml-syntax: /);
  });

  it("a path that does not exist is a usage error (2)", async () => {
    expect(await pflow("validate", "nope")).toEqual({
      code: 2,
      stdout: "",
      stderr: "pflow: nope: no such file or directory\n",
    });
  });

  it("a directory with no definitions is a usage error (2)", async () => {
    expect((await pflow("validate", "empty")).stderr).toBe(
      "pflow: empty: no definitions found (looked for *.yaml and *.yml files)\n",
    );
    expect(await pflow("validate", "other")).toMatchObject({
      code: 2,
      stderr: "pflow: other: no definitions found (1 YAML file, none with apiVersion: pflow/v1)\n",
    });
  });

  it("a bad flag or format is a usage error (2)", async () => {
    expect((await pflow("validate", "--format", "xml")).code).toBe(2);
    expect((await pflow("validate", "--verbose")).code).toBe(2);
    expect((await pflow("frobnicate")).stderr).toContain('unknown command "frobnicate"');
  });
});

describe("the installed bin", () => {
  it("runs through Node 24 and reports exit codes", async () => {
    const bin = join(cwd, "cli/pflow.js");
    const run = promisify(execFile);
    await expect(
      run(process.execPath, [bin, "validate", "defs/ok.yaml"], { cwd: dir }),
    ).resolves.toMatchObject({ stdout: "1 file, 0 errors, 0 warnings\n" });
    await expect(run(process.execPath, [bin, "validate", "defs"], { cwd: dir })).rejects.toMatchObject({
      code: 1,
    });
  }, 20_000);
});

describe("paths named more than once", () => {
  it("validates a file once, however it is named", async () => {
    expect((await pflow("validate", "defs", "./defs/ok.yaml")).stdout).not.toContain("duplicate-name");
    const result = await pflow("validate", "defs/ok.yaml", "defs", "--format", "json");
    expect(JSON.parse(result.stdout).files.map((f: { path: string }) => f.path)).toEqual([
      "defs/ok.yaml",
      "defs/nested/bad.yml",
    ]);
  });
});
