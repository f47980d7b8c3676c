/**
 * The distributed benchmarks' workflow: root → WIDTH parallel no-op transforms
 * → join, WIDTH + 2 nodes, so a run measures the engine's round trips, not a
 * model's latency.
 */
export const WIDTH = 8;
export const NODES = WIDTH + 2;

export const FAN_WORKFLOW = [
  "apiVersion: pflow/v1",
  "kind: Workflow",
  "metadata: { name: fan }",
  "spec:",
  "  nodes:",
  "    root: { type: transform, expr: 'inputs.n' }",
  ...Array.from(
    { length: WIDTH },
    (_, i) => `    n${i}: { type: transform, expr: 'nodes.root.output + ${i}' }`,
  ),
  `    join: { type: transform, expr: '$sum([${Array.from({ length: WIDTH }, (_, i) => `nodes.n${i}.output`).join(", ")}])' }`,
].join("\n");
