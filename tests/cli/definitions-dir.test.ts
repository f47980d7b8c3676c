import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_DEFINITIONS_DIR, defaultDefinitionsDir } from "../../cli/environment.ts";
import { BUNDLED_EXAMPLES, definitionsDir } from "../../cli/setup.ts";

let cwd: string;
let dir: string;
beforeAll(() => {
  cwd = process.cwd();
  dir = mkdtempSync(join(tmpdir(), "pflow-defs-"));
  process.chdir(dir);
});
afterAll(() => process.chdir(cwd));

describe("the default definitions folder", () => {
  it("is $PFLOW_DEFINITIONS, else ./definitions once it exists, else none", () => {
    expect(DEFAULT_DEFINITIONS_DIR).toBe("definitions");
    expect(defaultDefinitionsDir({})).toBeUndefined();
    expect(defaultDefinitionsDir({ PFLOW_DEFINITIONS: "/etc/pflow/definitions" })).toBe(
      "/etc/pflow/definitions",
    );
    mkdirSync(join(dir, "definitions"));
    expect(defaultDefinitionsDir({})).toBe("definitions");
    expect(defaultDefinitionsDir({ PFLOW_DEFINITIONS: "elsewhere" })).toBe("elsewhere");
  });

  it("serve, run and worker take --definitions first, then the default folder, then the bundled examples", () => {
    expect(definitionsDir("mine")).toBe("mine");
    const saved = process.env.PFLOW_DEFINITIONS;
    delete process.env.PFLOW_DEFINITIONS;
    try {
      expect(definitionsDir(undefined)).toBe("definitions");
      process.chdir(mkdtempSync(join(tmpdir(), "pflow-nodefs-")));
      expect(definitionsDir(undefined)).toBe(BUNDLED_EXAMPLES);
    } finally {
      if (saved !== undefined) process.env.PFLOW_DEFINITIONS = saved;
      process.chdir(dir);
    }
  });
});
