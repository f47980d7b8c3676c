import { describe, expect, it } from "vitest";
import { check, findings, yaml } from "../helpers/definitions.ts";

// `autoRollback` on a canary: compiled with its defaults, and every value out of
// range reported at its own line and column, in words.

const model = (autoRollback: string, canaryVersion = "2") => yaml`
  apiVersion: pflow/v1
  kind: Model
  metadata: { name: writer }
  spec:
    versions:
      "1": { provider: mock, response: 1 }
      "2": { provider: mock, response: 2 }
    aliases:
      production:
        version: "1"
        canary:
          version: "${canaryVersion}"
          percent: 10
          autoRollback: ${autoRollback}
`;

const found = (text: string) => findings(text).map((d) => `${d.line}:${d.column} ${d.code}: ${d.message}`);

describe("autoRollback on a canary", () => {
  it("compiles, minCalls defaulting to 100 and a threshold not given to null", () => {
    const set = check(model("{ maxErrorRateDelta: 0.05 }"));
    expect(set.valid).toBe(true);
    expect(set.models.get("writer")?.aliases.production).toEqual({
      version: "1",
      canary: {
        version: "2",
        percent: 10,
        autoRollback: { maxErrorRateDelta: 0.05, maxP95Ratio: null, minCalls: 100 },
      },
    });
    const both = check(model("{ maxErrorRateDelta: 0, maxP95Ratio: 1.5, minCalls: 40 }"));
    expect(both.models.get("writer")?.aliases.production?.canary?.autoRollback).toEqual({
      maxErrorRateDelta: 0,
      maxP95Ratio: 1.5,
      minCalls: 40,
    });
  });

  it("a canary without it is never rolled back automatically (null)", () => {
    const text = model("{ maxErrorRateDelta: 0.05 }").replace(/\n\s+autoRollback:.*\n/, "\n");
    expect(check(text).models.get("writer")?.aliases.production?.canary?.autoRollback).toBeNull();
  });

  it("reports each value out of range at the value, with what it means", () => {
    expect(found(model("{ maxErrorRateDelta: 1, maxP95Ratio: 0.9, minCalls: 0 }"))).toEqual([
      `14:44 schema: "maxErrorRateDelta" must be less than 1, not 1 (the most the canary's error rate may exceed its base's, as a fraction: 0.05 is 5 percentage points)`,
      `14:60 schema: "maxP95Ratio" must be at least 1, not 0.9 (the most the canary's p95 latency may be, as a multiple of its base's: 1.5 is 50% slower)`,
      `14:75 schema: "minCalls" must be at least 1, not 0 (calls the canary and its base must each have had since the canary was set before it is judged; default 100)`,
    ]);
    expect(found(model("{ maxErrorRateDelta: -0.1 }"))[0]).toContain(
      '"maxErrorRateDelta" must be at least 0',
    );
    expect(found(model("{ maxP95Ratio: 2, minCalls: 2.5 }"))).toEqual([
      '14:51 schema: "minCalls" must be an integer, not number 2.5',
    ]);
  });

  it("an unknown field, with did you mean", () => {
    expect(found(model("{ maxErrorRateDelta: 0.1, minCall: 5 }"))).toEqual([
      '14:49 schema: unknown field "minCall" in "autoRollback" (did you mean "minCalls"?)',
    ]);
  });

  it("must set a threshold", () => {
    expect(found(model("{ minCalls: 50 }"))).toEqual([
      '14:9 schema: autoRollback of the canary of alias "production" sets no threshold: give maxErrorRateDelta, maxP95Ratio or both',
    ]);
  });

  it("must compare two versions", () => {
    expect(found(model("{ maxP95Ratio: 2 }", "1"))).toEqual([
      '14:9 schema: autoRollback of the canary of alias "production" compares version "1" with itself: the canary must be another version than the alias\'s',
    ]);
  });

  it("an alias with no canary has nothing to roll back: autoRollback belongs to the canary", () => {
    const text = yaml`
      apiVersion: pflow/v1
      kind: Model
      metadata: { name: writer }
      spec:
        versions:
          "1": { provider: mock, response: 1 }
        aliases:
          production: { version: "1", autoRollback: { maxP95Ratio: 2 } }
    `;
    expect(found(text)).toEqual(['8:33 schema: unknown field "autoRollback" in "production"']);
  });
});
