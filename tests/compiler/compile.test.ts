import { describe, expect, it } from "vitest";
import type { ExecutionPlan } from "../../compiler/index.ts";
import { check, MODEL, yaml } from "../helpers/definitions.ts";

const FLOW = yaml`
  apiVersion: pflow/v1
  kind: Workflow
  metadata:
    name: listing
    labels: { team: listings }
  spec:
    inputs:
      type: object
      properties: { notes: { type: string }, tone: { type: string, default: neutral } }
    timeout: 10m
    defaults:
      timeout: 30s
      retry: { maxAttempts: 2, delay: 2s }
    nodes:
      clean:
        type: preprocess
        op: normalize_text
        with: { text: "{{ inputs.notes }}", stripHtml: true }
      draft:
        type: model
        model: writer
        input:
          prompt: "Write a {{ inputs.tone }} listing: {{ nodes.clean.output.text }}"
          maxWords: 120
        retry: { maxAttempts: 5 }
        cache: { ttl: 24h }
        fallback: [writer@stable]
      check:
        type: transform
        expr: "$length(nodes.draft.output.text) > 10"
        needs: [clean]
      notify:
        type: transform
        expr: "'done'"
        needs: [check]
        trigger: all_done
        when: "{{ nodes.check.output }}"
    outputs:
      description: "{{ nodes.draft.output.text }}"
`;

function planOf(text: string, name: string): ExecutionPlan {
  const set = check({ "flow.yaml": text, "model.yaml": MODEL });
  expect(set.files.flatMap((f) => f.errors)).toEqual([]);
  const plan = set.workflows.get(name);
  if (!plan) throw new Error(`no plan for ${name}`);
  return plan;
}

describe("compiling a workflow to an ExecutionPlan", () => {
  const plan = planOf(FLOW, "listing");

  it("orders nodes topologically, derives dependencies from needs and expressions", () => {
    expect(plan.order).toEqual(["clean", "draft", "check", "notify"]);
    expect(plan.nodes.draft?.dependencies).toEqual(["clean"]);
    expect(plan.nodes.check?.dependencies).toEqual(["clean", "draft"]);
    expect(plan.nodes.clean?.dependents).toEqual(["draft", "check"]);
    expect(plan.roots).toEqual(["clean"]);
    expect(plan.leaves).toEqual(["notify"]);
  });

  it("resolves defaults once, here", () => {
    const draft = plan.nodes.draft;
    expect(draft?.timeoutMs).toBe(30_000);
    expect(draft?.retry).toEqual({
      maxAttempts: 5,
      backoff: "exponential",
      delayMs: 2000,
      maxDelayMs: 60_000,
      jitter: true,
    });
    expect(plan.nodes.clean?.retry.maxAttempts).toBe(2);
    expect(draft?.cache).toEqual({ ttlMs: 86_400_000, key: null });
    expect(draft?.onError).toBe("fail");
    expect(plan.nodes.notify?.trigger).toBe("all_done");
    expect(plan.timeoutMs).toBe(600_000);
    expect(plan.failFast).toBe(true);
    expect(plan.labels).toEqual({ team: "listings" });
  });

  it("gives model nodes without a timeout to the model's timeout", () => {
    const bare = FLOW.replace("  defaults:\n    timeout: 30s\n", "  defaults:\n");
    const compiled = planOf(bare, "listing");
    expect(compiled.nodes.draft?.timeoutMs).toBeNull();
    expect(compiled.nodes.clean?.timeoutMs).toBe(300_000);
  });

  it("compiles templates so only expressions are evaluated", () => {
    const draft = plan.nodes.draft;
    if (draft?.type !== "model") throw new Error("draft is a model node");
    expect(draft.input).toEqual({
      t: "object",
      entries: [
        [
          "prompt",
          {
            t: "interpolation",
            parts: ["Write a ", { expr: "inputs.tone" }, " listing: ", { expr: "nodes.clean.output.text" }],
          },
        ],
        ["maxWords", { t: "literal", value: 120 }],
      ],
    });
    expect(plan.nodes.notify?.when).toEqual({ t: "expression", expr: "nodes.check.output" });
    expect(plan.outputs).toEqual({
      t: "object",
      entries: [["description", { t: "expression", expr: "nodes.draft.output.text" }]],
    });
  });

  it("lists the models and sub-workflows it may call", () => {
    expect(plan.models).toEqual(["writer", "writer@stable"]);
    expect(plan.workflows).toEqual([]);
  });

  it("is immutable and serialisable", () => {
    expect(Object.isFrozen(plan)).toBe(true);
    expect(Object.isFrozen(plan.nodes.draft?.retry)).toBe(true);
    expect(() => {
      (plan.order as string[]).push("x");
    }).toThrow();
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  it("hashes the content: same definition, same hash; any change, another", () => {
    expect(plan.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(planOf(FLOW, "listing").hash).toBe(plan.hash);
    const reordered = FLOW.replace("  timeout: 10m\n", "").replace(
      "  defaults:\n",
      "  defaults:\n    onError: fail\n",
    );
    expect(reordered).not.toBe(FLOW);
    expect(planOf(reordered, "listing").hash).not.toBe(plan.hash);
    const sameContent = FLOW.replace("  timeout: 10m\n", "").replace("spec:\n", "spec:\n  timeout: 10m\n");
    expect(sameContent).not.toBe(FLOW);
    expect(planOf(sameContent, "listing").hash).toBe(plan.hash);
    expect(planOf(FLOW.replace("maxWords: 120", "maxWords: 121"), "listing").hash).not.toBe(plan.hash);
  });

  it("compiles a map with its template node", () => {
    const text = yaml`
      apiVersion: pflow/v1
      kind: Workflow
      metadata: { name: photos }
      spec:
        nodes:
          prep: { type: transform, expr: "inputs.photos" }
          tag:
            type: map
            items: "{{ nodes.prep.output }}"
            concurrency: 4
            node:
              type: model
              model: writer@1
              input: { url: "{{ item }}", position: "{{ index }}" }
              onError: continue
    `;
    const tag = planOf(text, "photos").nodes.tag;
    if (tag?.type !== "map") throw new Error("tag is a map");
    expect(tag.dependencies).toEqual(["prep"]);
    expect(tag.concurrency).toBe(4);
    expect(tag.node).toMatchObject({ id: "tag", type: "model", model: "writer@1", onError: "continue" });
    expect(tag.node.retry.maxAttempts).toBe(3);
  });

  it("compiles stream: false unless a model node asks for it, in map templates too", () => {
    const draft = plan.nodes.draft;
    if (draft?.type !== "model") throw new Error("draft is a model node");
    expect(draft.stream).toBe(false);
    const streaming = planOf(FLOW.replace("retry: { maxAttempts: 5 }", "stream: true"), "listing").nodes
      .draft;
    expect(streaming).toMatchObject({ type: "model", stream: true });
    const text = yaml`
      apiVersion: pflow/v1
      kind: Workflow
      metadata: { name: drafts }
      spec:
        nodes:
          each:
            type: map
            items: "{{ inputs.rooms }}"
            node: { type: model, model: writer@1, stream: true, input: { prompt: "{{ item }}" } }
    `;
    const each = planOf(text, "drafts").nodes.each;
    if (each?.type !== "map") throw new Error("each is a map");
    expect(each.node).toMatchObject({ type: "model", stream: true });
  });

  it("rejects stream on nodes that are not model calls", () => {
    const text = FLOW.replace("needs: [clean]\n", "needs: [clean]\n      stream: true\n");
    expect(text).toContain("stream: true");
    const errors = check({ "flow.yaml": text, "model.yaml": MODEL }).files.flatMap((f) => f.errors);
    expect(errors.map((e) => `${e.code}: ${e.message}`)).toEqual([
      expect.stringMatching(/^schema: unknown field "stream"/),
    ]);
  });

  it("compiles a 1,000-long chain without recursion trouble", () => {
    const nodes = Array.from({ length: 1000 }, (_, i) =>
      i === 0
        ? "    n0: { type: transform, expr: '0' }"
        : `    n${i}: { type: transform, expr: 'nodes.n${i - 1}.output + 1' }`,
    ).join("\n");
    const text = `apiVersion: pflow/v1\nkind: Workflow\nmetadata: { name: chain }\nspec:\n  nodes:\n${nodes}\n`;
    const chain = planOf(text, "chain");
    expect(chain.order[999]).toBe("n999");
    expect(chain.leaves).toEqual(["n999"]);
  });
});
